package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	attr "github.com/attribution-dev/attribution/internal/attribution"
)

const knownPaths = "path;total_conversions;total_conversion_value;total_null\n" +
	"C1 > C2 > C3;1;1000;0\n" +
	"C1;0;0;1\n" +
	"C2 > C3;0;0;1\n"

func TestModelReportTable(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, modelReport(strings.NewReader(knownPaths), &out, "table"))
	lines := strings.Split(out.String(), "\n")
	require.GreaterOrEqual(t, len(lines), 6, out.String())
	assert.Equal(t, []string{"channel", "first", "last", "linear", "markov", "shapley", "markov"}, strings.Fields(lines[0]))
	// Largest markov credit first; the columns are first, last, linear, markov and
	// shapley (conversions, value), then the removal effect.
	assert.Equal(t, strings.Fields("C2 0.00 0.00 0.00 0.00 0.33 333.33 0.40 400.00 0.33 333.33 1.0000"), strings.Fields(lines[2]))
	assert.Equal(t, strings.Fields("C3 0.00 0.00 1.00 1000.00 0.33 333.33 0.40 400.00 0.33 333.33 1.0000"), strings.Fields(lines[3]))
	assert.Equal(t, strings.Fields("C1 1.00 1000.00 0.00 0.00 0.33 333.33 0.20 200.00 0.33 333.33 0.5000"), strings.Fields(lines[4]))
	assert.Equal(t, "(total)", strings.Fields(lines[5])[0])
	// Columns line up: every row is as wide as the header.
	assert.Len(t, strings.TrimRight(lines[2], " "), len(strings.TrimRight(lines[1], " ")))
	assert.Contains(t, out.String(), "3 paths (3 distinct), 1.00 conversions, 2.00 nulls; P(conversion) = 0.333333")
}

func TestModelReportJSON(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, modelReport(strings.NewReader(knownPaths), &out, "json"))
	var rep pathModelReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	assert.Equal(t, 3, rep.Paths)
	assert.Equal(t, pathTotals{Conversions: 1, Value: 1000, Nulls: 2}, rep.Totals)
	assert.InDelta(t, 1.0/3, rep.ConversionProbability, 1e-12)
	require.Len(t, rep.Channels, 3)
	got := map[string]pathModelReportLine{}
	for _, l := range rep.Channels {
		got[l.Channel] = l
		assert.Len(t, l.Models, len(attr.PathModels()), l.Channel)
	}
	assert.InDelta(t, 200, got["C1"].Models[string(attr.ModelMarkov)].Value, 1e-9)
	assert.InDelta(t, 400, got["C2"].Models[string(attr.ModelMarkov)].Value, 1e-9)
	assert.InDelta(t, 0.5, got["C1"].RemovalEffect, 1e-12)
	assert.Equal(t, pathCredit{Conversions: 1, Value: 1000}, got["C1"].Models[string(attr.ModelFirst)])
	assert.Equal(t, pathCredit{Conversions: 1, Value: 1000}, got["C3"].Models[string(attr.ModelLast)])
}

func TestModelReportMalformedLine(t *testing.T) {
	err := modelReport(strings.NewReader(knownPaths+"C1 > C2;one;0;0\n"), io.Discard, "table")
	require.ErrorIs(t, err, attr.ErrMalformedPath)
	assert.Contains(t, err.Error(), "line 5:")
}

// pathFile writes n random paths over 20 channels, one to eight touches each, in the
// ChannelAttribution format: the shape of the files the package's users export.
func pathFile(n int) []byte {
	r := rand.New(rand.NewPCG(15, 100))
	channels := make([]string, 20)
	for i := range channels {
		channels[i] = fmt.Sprintf("Channel %02d", i)
	}
	var b bytes.Buffer
	b.WriteString(attr.PathHeader + "\n")
	for range n {
		k := 1 + r.IntN(8)
		for j := range k {
			if j > 0 {
				b.WriteString(" > ")
			}
			b.WriteString(channels[r.IntN(len(channels))])
		}
		conv := r.IntN(3)
		fmt.Fprintf(&b, ";%d;%d;%d\n", conv, conv*(20+r.IntN(200)), r.IntN(50))
	}
	return b.Bytes()
}

// BenchmarkModelCommand is `attribution model -paths FILE` end to end (read, every
// model, the table) over 100,000 paths: the issue asks for under 2 s.
func BenchmarkModelCommand(b *testing.B) {
	file := pathFile(100_000)
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		if err := modelReport(bytes.NewReader(file), io.Discard, "table"); err != nil {
			b.Fatal(err)
		}
	}
}
