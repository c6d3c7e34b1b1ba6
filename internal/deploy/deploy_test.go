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

// TestDeploy builds the zips once per architecture and checks them in two parallel
// branches: the linux/arm64 zips that get deployed (reproducible, packaged by osls into
// the expected CloudFormation), and host-architecture zips run under the Runtime
// Interface Emulator. Build directories live in t.TempDir and go away afterwards.
func TestDeploy(t *testing.T) {
	root := repoRoot(t)
	names := lambdas(t)
	t.Logf("lambdas: %s", strings.Join(names, " "))
	t.Run("group", func(t *testing.T) {
		t.Run("artifact", func(t *testing.T) {
			t.Parallel()
			pkgDir := t.TempDir()
			bin := filepath.Join(pkgDir, "bin")
			makeBuild(t, root, bin, "arm64")
			t.Run("zips", func(t *testing.T) { testZips(t, bin, names) })
			t.Run("reproducible", func(t *testing.T) { testReproducible(t, root, bin, names[0]) })
			t.Run("package", func(t *testing.T) { testPackage(t, root, pkgDir, names) })
		})
		t.Run("runtime", func(t *testing.T) {
			t.Parallel()
			bin := t.TempDir()
			makeBuild(t, root, bin, runtime.GOARCH)
			testRuntime(t, root, bin, names)
		})
	})
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

// unzipBootstrap extracts bootstrap from a deployment zip into dir, with the mode the
// zip records, as Lambda does into /var/task.
func unzipBootstrap(t testing.TB, zipPath, dir string) string {
	t.Helper()
	files := readZip(t, zipPath)
	if len(files) != 1 || files[0].Name != "bootstrap" {
		t.Fatalf("%s: want exactly one entry named bootstrap", zipPath)
	}
	rc, err := files[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	path := filepath.Join(dir, "bootstrap")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, files[0].Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// title turns a function name into serverless's logical-id form: query → Query.
func title(name string) string {
	return strings.ToUpper(name[:1]) + name[1:]
}
