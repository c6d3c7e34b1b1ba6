package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// detectWith runs `attribution detect` with REFERERS_FILE set to referers.
func detectWith(t *testing.T, referers, stdin string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "detect")
	cmd.Env = append(os.Environ(), "ATTRIBUTION_TEST_RUN_MAIN=1", "REFERERS_FILE="+referers)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		return out.String(), errOut.String(), exit.ExitCode()
	}
	return out.String(), errOut.String(), 0
}

func TestDetectReadsReferersFile(t *testing.T) {
	out, stderr, code := detectWith(t, "../../internal/source/testdata/referers.yml",
		`{"url": "https://acme.test/", "referrer": "https://portal.example.org/"}`+"\n"+
			`{"url": "https://acme.test/", "referrer": "https://www.google.com/?q=crm"}`+"\n")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t,
		`{"referrer":{"type":"link","site":"Example Portal","from":"https://portal.example.org/","link":"https://acme.test/"},"channel":"Referral"}`+"\n"+
			`{"referrer":{"type":"search","engine":"Google Web","query":"crm"},"channel":"Organic Search"}`+"\n", out)
}

func TestDetectRefusesBrokenReferersFile(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "referers.yml")
	require.NoError(t, os.WriteFile(broken, []byte("search:\n  A:\n    domains:\n      - https://a.example/\n"), 0o644))
	out, stderr, code := detectWith(t, broken, `{"url": "https://acme.test/", "referrer": ""}`+"\n")
	assert.Equal(t, 1, code)
	assert.Empty(t, out, "nothing detected with the built-in rules alone")
	assert.Contains(t, stderr, "REFERERS_FILE: "+broken+`:4: source "A": bad domain "https://a.example/"`)

	_, stderr, code = detectWith(t, broken+".missing", "")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, broken+".missing")
}

// TestBrokenBuiltinRulesStopTheStart builds the command from a broken rules.json (go
// build -overlay, so the checkout stays as it is): it must refuse to start, not call
// every visit a link.
func TestBrokenBuiltinRulesStopTheStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rules, err := filepath.Abs("../../internal/source/rules.json")
	require.NoError(t, err)
	broken := filepath.Join(dir, "rules.json")
	require.NoError(t, os.WriteFile(broken, []byte(`{"sources": [{"type": "search", "name": "x"}]}`), 0o644))
	overlay := filepath.Join(dir, "overlay.json")
	o, err := json.Marshal(map[string]map[string]string{"Replace": {rules: broken}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(overlay, o, 0o644))
	bin := filepath.Join(dir, "attribution")
	build := exec.Command("go", "build", "-overlay", overlay, "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	cmd := exec.Command(bin, "detect")
	cmd.Stdin = strings.NewReader(`{"url": "https://acme.test/", "referrer": "https://www.google.com/"}` + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stdout: %s", stdout.String())
	assert.Equal(t, 1, exit.ExitCode())
	assert.Empty(t, stdout.String())
	assert.Contains(t, stderr.String(), `built-in rules.json: rules: sources[0] "x": no domains or apps`)
}
