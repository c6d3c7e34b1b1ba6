// Command zipbootstrap packs Lambda binaries into deployment zips, reproducibly: each
// BINARY becomes OUT/<base name>.zip holding "bootstrap", with a fixed modification
// time and mode 0755, so the same binary always gives the same bytes. -add NAME=FILE
// also puts FILE into the zips of the binaries -to lists, as NAME (mode 0644): Lambda
// unpacks it beside bootstrap, in /var/task.
//
//	go -C tools run ./zipbootstrap -out $PWD/bin $PWD/bin/.build/linux_arm64/events ...
//	go -C tools run ./zipbootstrap -out $PWD/bin -add referers.yml=$PWD/referers.yml -to detect,dashboard ...
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
	"strings"
	"sync"
	"time"
)

// modified is the fixed timestamp of every entry: the earliest an MS-DOS date can say.
var modified = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

func main() {
	out := flag.String("out", "bin", "directory for the zips")
	add := flag.String("add", "", "NAME=FILE: a file to put into the zips -to names, as NAME")
	to := flag.String("to", "", "comma separated base names of the binaries whose zips get -add's file")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: zipbootstrap -out DIR [-add NAME=FILE -to NAME,...] BINARY...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var extra *Entry
	if *add != "" {
		name, file, ok := strings.Cut(*add, "=")
		if !ok || name == "" || strings.ContainsAny(name, "/\\") || *to == "" {
			fmt.Fprintln(os.Stderr, "zipbootstrap: -add wants NAME=FILE, NAME a plain file name, and -to the binaries that get it")
			os.Exit(2)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "zipbootstrap:", err)
			os.Exit(1)
		}
		extra = &Entry{Name: name, Data: data}
	}
	with := map[string]bool{}
	for _, n := range strings.Split(*to, ",") {
		if n = strings.TrimSpace(n); n != "" {
			with[n] = true
		}
	}
	// Each zip is independent: compress them in parallel.
	errs := make([]error, flag.NArg())
	var wg sync.WaitGroup
	for i, bin := range flag.Args() {
		var entries []Entry
		if extra != nil && with[filepath.Base(bin)] {
			entries = append(entries, *extra)
		}
		wg.Go(func() {
			errs[i] = pack(bin, filepath.Join(*out, filepath.Base(bin)+".zip"), entries)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, "zipbootstrap:", err)
		os.Exit(1)
	}
}

// pack writes dst, a zip with bin stored as "bootstrap" and the extra entries. It
// writes to a temporary file and renames, so a failed build never leaves a truncated
// zip behind.
func pack(bin, dst string, extra []Entry) error {
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	zipped, err := Zip(data, extra...)
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

// Entry is a data file packed beside bootstrap.
type Entry struct {
	Name string
	Data []byte
}

// Zip returns the deployment zip of one bootstrap binary, with extra files after it.
func Zip(bootstrap []byte, extra ...Entry) ([]byte, error) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	w.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		// The default level: BestCompression takes four times as long for 0.3% less.
		return flate.NewWriter(out, flate.DefaultCompression)
	})
	if err := add(w, "bootstrap", 0o755, bootstrap); err != nil {
		return nil, err
	}
	for _, e := range extra {
		if err := add(w, e.Name, 0o644, e.Data); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func add(w *zip.Writer, name string, mode os.FileMode, data []byte) error {
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified}
	h.SetMode(mode) // also marks the entry as made on Unix, so the mode survives unzip
	f, err := w.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return err
}
