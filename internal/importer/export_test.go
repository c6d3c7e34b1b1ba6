package importer

import (
	"bytes"
	"io"
)

// Bytes is a source backed by memory, for tests and benchmarks.
func Bytes(name string, b []byte) Source {
	return Source{Name: name, Size: int64(len(b)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}
