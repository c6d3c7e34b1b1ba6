// Package deploy_test checks what gets deployed: the zips `make build` makes (reproducible,
// one bootstrap each), the CloudFormation `osls package` makes from serverless.yml
// (offline), and every Lambda binary running under the AWS Lambda Runtime Interface
// Emulator against dynalite. It has no non-test code.
//
// The Lambdas are every cmd/<name>/main.go except cmd/attribution, exactly as the
// Makefile derives them, so a Lambda that has not landed yet is simply not in the list.
package deploy_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/dynalite"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// repoRoot is the folder holding go.mod and package.json.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := dynalite.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// lambdas lists the Lambdas as the Makefile does: cmd/*/main.go minus cmd/attribution.
func lambdas(t testing.TB) []string {
	t.Helper()
	mains, err := filepath.Glob(filepath.Join(repoRoot(t), "cmd", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mains {
		if name := filepath.Base(filepath.Dir(m)); name != "attribution" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		t.Fatal("no Lambda under cmd/")
	}
	return names
}

// TestDeploy builds the zips once per architecture, both with REFERERS_FILE (the test
// list of internal/source), and checks them in two parallel branches: the linux/arm64
// zips that get deployed (reproducible, packaged by osls into the expected
// CloudFormation), and host-architecture zips run under the Runtime Interface
// Emulator, which read the list from their package. Build directories live in
// t.TempDir and go away afterwards.
func TestDeploy(t *testing.T) {
	root := repoRoot(t)
	names := lambdas(t)
	detecting := detectingLambdas(t, root, names)
	t.Logf("lambdas: %s; detecting: %s", strings.Join(names, " "), strings.Join(detecting, " "))
	referers := "REFERERS_FILE=" + referersFile(root)
	t.Run("group", func(t *testing.T) {
		t.Run("artifact", func(t *testing.T) {
			t.Parallel()
			pkgDir := t.TempDir()
			bin := filepath.Join(pkgDir, "bin")
			makeBuild(t, root, bin, "arm64", referers)
			t.Run("zips", func(t *testing.T) { testZips(t, bin, names, detecting, referersFile(root)) })
			t.Run("reproducible", func(t *testing.T) { testReproducible(t, root, bin, detecting[0], referers) })
			t.Run("no referers file", func(t *testing.T) { testWithoutReferers(t, root, detecting[0]) })
			t.Run("package", func(t *testing.T) { testPackage(t, root, pkgDir, names, detecting) })
		})
		t.Run("runtime", func(t *testing.T) {
			t.Parallel()
			bin := t.TempDir()
			makeBuild(t, root, bin, runtime.GOARCH, referers)
			testRuntime(t, root, bin, names)
		})
	})
}

// referersFile is the small referers.yml internal/source tests with.
func referersFile(root string) string {
	return filepath.Join(root, "internal", "source", "testdata", "referers.yml")
}

// detectingLambdas are the Lambdas that detect sources, whose zips carry REFERERS_FILE:
// those whose binary links the touch consumer or the dashboard's detector. The
// Makefile lists them by hand (DETECTING); this keeps that list true.
func detectingLambdas(t testing.TB, root string, names []string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./cmd/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var detecting []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, " ")
		name := filepath.Base(pkg)
		if !slices.Contains(names, name) {
			continue
		}
		for _, d := range strings.Fields(deps) {
			if strings.HasSuffix(d, "/internal/touches") || strings.HasSuffix(d, "/internal/dashboard") {
				detecting = append(detecting, name)
				break
			}
		}
	}
	slices.Sort(detecting)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^DETECTING\s*:=(.*)$`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("the Makefile has no DETECTING list")
	}
	listed := strings.Fields(string(m[1]))
	slices.Sort(listed)
	if !slices.Equal(listed, detecting) {
		t.Fatalf("the Makefile's DETECTING is %v, but the Lambdas that detect sources are %v", listed, detecting)
	}
	if len(detecting) == 0 {
		t.Fatal("no Lambda detects sources")
	}
	return detecting
}

// makeBuild runs `make build` for linux/arch into dir: the very recipe that fills bin/.
func makeBuild(t testing.TB, root, dir, arch string, extra ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	args := append([]string{"--no-print-directory", "build", "BIN=" + dir, "LAMBDA_ARCH=" + arch}, extra...)
	cmd := exec.CommandContext(ctx, "make", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("make build LAMBDA_ARCH=%s %s: %s", arch, strings.Join(extra, " "), time.Since(start).Round(100*time.Millisecond))
}

// readZip returns the entries of a deployment zip.
func readZip(t testing.TB, path string) []*zip.File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r.File
}

// unzipPackage extracts a deployment zip into dir, with the modes the zip records, as
// Lambda does into /var/task, and returns the names of its entries. The first must be
// bootstrap.
func unzipPackage(t testing.TB, zipPath, dir string) []string {
	t.Helper()
	files := readZip(t, zipPath)
	if len(files) == 0 || files[0].Name != "bootstrap" {
		t.Fatalf("%s: want bootstrap first", zipPath)
	}
	var names []string
	for _, zf := range files {
		if zf.Name != filepath.Base(zf.Name) {
			t.Fatalf("%s: entry %q is not a plain file name", zipPath, zf.Name)
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(dir, zf.Name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, zf.Mode().Perm())
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(f, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		names = append(names, zf.Name)
	}
	return names
}

// title turns a function name into serverless's logical-id form: query → Query.
func title(name string) string {
	return strings.ToUpper(name[:1]) + name[1:]
}
