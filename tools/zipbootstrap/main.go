// Command zipbootstrap packs Lambda binaries into deployment zips, reproducibly: each
// BINARY becomes OUT/<base name>.zip holding one entry, "bootstrap", with a fixed
// modification time and mode 0755, so the same binary always gives the same bytes.
//
//	go -C tools run ./zipbootstrap -out $PWD/bin $PWD/bin/.build/linux_arm64/events ...
//
// It is a build tool, not part of the product.
package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// modified is the fixed timestamp of every entry: the earliest an MS-DOS date can say.
var modified = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

func main() {
	out := flag.String("out", "bin", "directory for the zips")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: zipbootstrap -out DIR BINARY...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	// Each zip is independent: compress them in parallel.
	errs := make([]error, flag.NArg())
	var wg sync.WaitGroup
	for i, bin := range flag.Args() {
		wg.Go(func() {
			errs[i] = pack(bin, filepath.Join(*out, filepath.Base(bin)+".zip"))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, "zipbootstrap:", err)
		os.Exit(1)
	}
}

// pack writes dst, a zip with bin stored as "bootstrap". It writes to a temporary file
// and renames, so a failed build never leaves a truncated zip behind.
func pack(bin, dst string) error {
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	zipped, err := Zip(data)
	if err != nil {
		return fmt.Errorf("zip %s: %w", bin, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".zipbootstrap-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(zipped); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// Zip returns the deployment zip of one bootstrap binary.
func Zip(bootstrap []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	w.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		// The default level: BestCompression takes four times as long for 0.3% less.
		return flate.NewWriter(out, flate.DefaultCompression)
	})
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: modified}
	h.SetMode(0o755) // also marks the entry as made on Unix, so the mode survives unzip
	f, err := w.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(bootstrap); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
