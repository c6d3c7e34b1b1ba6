package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	attr "github.com/attribution-dev/attribution/internal/attribution"
)

func runModel(_ context.Context, args []string) error {
	fs := newFlags("model", "model -paths FILE [-format table|json]   (FILE - is stdin)",
		"Reads paths in the ChannelAttribution format, a header line then\n"+
			"  path;total_conversions;total_conversion_value;total_null\n"+
			"with the channels joined by \" > \", and prints per channel the credited conversions and value\n"+
			"under first, last, linear (per touch), markov (exact removal effects) and shapley (fractribution).")
	pathsFile := fs.String("paths", "", "path file (- for stdin)")
	format := fs.String("format", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the file goes in -paths)", fs.Arg(0))
	}
	if *pathsFile == "" {
		fs.Usage()
		return errors.New("no path file given (-paths FILE, or -paths - for stdin)")
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("unknown -format %q: want table or json", *format)
	}
	in := io.Reader(os.Stdin)
	if *pathsFile != "-" {
		f, err := os.Open(*pathsFile)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	out := bufio.NewWriter(os.Stdout)
	if err := modelReport(in, out, *format); err != nil {
		return err
	}
	return out.Flush()
}

// pathModelReport is `attribution model -format json`.
type pathModelReport struct {
	Paths                 int                   `json:"paths"`
	DistinctPaths         int                   `json:"distinctPaths"`
	Totals                pathTotals            `json:"totals"`
	ConversionProbability float64               `json:"conversionProbability"`
	Channels              []pathModelReportLine `json:"channels"`
}

type pathTotals struct {
	Conversions float64 `json:"conversions"`
	Value       float64 `json:"value"`
	Nulls       float64 `json:"nulls"`
}

type pathModelReportLine struct {
	Channel       string                `json:"channel"`
	RemovalEffect float64               `json:"removalEffect"`
	Models        map[string]pathCredit `json:"models"`
}

type pathCredit struct {
	Conversions float64 `json:"conversions"`
	Value       float64 `json:"value"`
}

// modelReport reads a path file from r and writes every path model's credits to w.
func modelReport(r io.Reader, w io.Writer, format string) error {
	paths, err := attr.ReadPaths(r)
	if err != nil {
		return err
	}
	set, err := attr.NewPathSet(paths)
	if err != nil {
		return err
	}
	chain := set.Markov()
	rep := pathModelReport{Paths: len(paths), DistinctPaths: set.Len(), ConversionProbability: chain.ConversionProbability}
	rep.Totals.Conversions, rep.Totals.Value, rep.Totals.Nulls = set.Totals()
	for i, ch := range set.Channels() {
		rep.Channels = append(rep.Channels, pathModelReportLine{Channel: ch, RemovalEffect: chain.RemovalEffects[i],
			Models: make(map[string]pathCredit, len(attr.PathModels()))})
	}
	for _, m := range attr.PathModels() {
		credits, err := set.Credits(m)
		if err != nil {
			return err
		}
		for i, c := range credits {
			rep.Channels[i].Models[string(m)] = pathCredit{Conversions: c.Conversions, Value: c.Value}
		}
	}
	// Biggest first by the data-driven verdict; ties by name keep the order stable.
	slices.SortStableFunc(rep.Channels, func(a, b pathModelReportLine) int {
		return cmp.Or(cmp.Compare(b.Models[string(attr.ModelMarkov)].Conversions, a.Models[string(attr.ModelMarkov)].Conversions),
			cmp.Compare(a.Channel, b.Channel))
	})
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write model report: %w", err)
		}
		return nil
	}
	return writeModelTable(w, rep)
}

func writeModelTable(w io.Writer, rep pathModelReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	// Channel names read best left-aligned: pad them to one width, so aligning every
	// cell right (for the numbers) leaves them as they are.
	width := len("(total)")
	for _, line := range rep.Channels {
		width = max(width, len(line.Channel))
	}
	cell := func(s string) string { return fmt.Sprintf("%-*s\t", width, strings.ReplaceAll(s, "\t", " ")) }
	fmt.Fprint(tw, cell("channel"))
	for _, m := range attr.PathModels() {
		fmt.Fprintf(tw, "%s\t\t", m)
	}
	fmt.Fprint(tw, "markov\t\n"+cell(""))
	for range attr.PathModels() {
		fmt.Fprint(tw, "conversions\tvalue\t")
	}
	fmt.Fprint(tw, "removal effect\t\n")
	for _, line := range rep.Channels {
		// A tab in a channel name would start a new column.
		fmt.Fprint(tw, cell(line.Channel))
		for _, m := range attr.PathModels() {
			c := line.Models[string(m)]
			fmt.Fprintf(tw, "%s\t%s\t", num(c.Conversions), num(c.Value))
		}
		fmt.Fprintf(tw, "%s\t\n", strconv.FormatFloat(line.RemovalEffect, 'f', 4, 64))
	}
	fmt.Fprint(tw, cell("(total)"))
	for range attr.PathModels() {
		fmt.Fprintf(tw, "%s\t%s\t", num(rep.Totals.Conversions), num(rep.Totals.Value))
	}
	fmt.Fprint(tw, "\t\n")
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write model report: %w", err)
	}
	_, err := fmt.Fprintf(w, "\n%d paths (%d distinct), %s conversions, %s nulls; P(conversion) = %s\n",
		rep.Paths, rep.DistinctPaths, num(rep.Totals.Conversions), num(rep.Totals.Nulls),
		strconv.FormatFloat(rep.ConversionProbability, 'f', 6, 64))
	if err != nil {
		return fmt.Errorf("write model report: %w", err)
	}
	return nil
}
