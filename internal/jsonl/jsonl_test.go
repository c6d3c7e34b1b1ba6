package jsonl

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendWritesWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "out.jsonl")
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { assert.NoError(t, Append(path, []byte(`{"a":"`+strings.Repeat("x", 10_000)+`"}`))) })
	}
	wg.Wait()
	require.NoError(t, Append(path, []byte("{}\n")))

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Len(t, lines, 51)
	for _, l := range lines[:50] {
		assert.Len(t, l, 10_008)
	}
	assert.Equal(t, "{}", lines[50], "a line that ends in a newline gets no second one")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func TestAppendSyncedWritesTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	require.NoError(t, AppendSynced(path, []byte(`{"a":1}`)))
	require.NoError(t, AppendSynced(path, []byte("{\"b\":2}\n")))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "{\"a\":1}\n{\"b\":2}\n", string(b))
}
