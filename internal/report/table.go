package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints a report as an aligned terminal table: credited conversions with one
// decimal, share as a percentage, revenue per currency, and a totals line. The model
// comparison puts every model's conversions, then every model's revenue, side by side.
func WriteTable(w io.Writer, r Report) error {
	fmt.Fprintf(w, "%s, %s to %s, by %s, model %s, lookback %d days\n\n", r.Event, r.From, r.To, r.By, r.Model, r.LookbackDays)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	curs := Currencies(r.Totals.Revenue)
	var header []string
	header = append(header, r.By)
	all := r.Model == AllModels
	if all {
		header = append(header, r.ModelNames()...)
		for _, c := range curs {
			for _, m := range r.ModelNames() {
				header = append(header, m+" "+c)
			}
		}
	} else {
		header = append(header, "conversions", "share")
		for _, c := range curs {
			header = append(header, "revenue "+c)
		}
	}
	line := func(cells []string) {
		// The first column reads better left-aligned: pad it by hand, since tabwriter
		// aligns every column one way.
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	rows := [][]string{header}
	for _, row := range r.Rows {
		cells := []string{row.Key}
		if all {
			for _, m := range r.ModelNames() {
				cells = append(cells, oneDecimal(row.Models[m].Conversions))
			}
			for _, c := range curs {
				for _, m := range r.ModelNames() {
					cells = append(cells, money(row.Models[m].Revenue[c]))
				}
			}
		} else {
			cells = append(cells, oneDecimal(row.Conversions), percent(row.Share))
			for _, c := range curs {
				cells = append(cells, money(row.Revenue[c]))
			}
		}
		rows = append(rows, cells)
	}
	total := []string{"total"}
	if all {
		for range r.ModelNames() {
			total = append(total, oneDecimal(r.Totals.Conversions))
		}
		for _, c := range curs {
			for range r.ModelNames() {
				total = append(total, money(r.Totals.Revenue[c]))
			}
		}
	} else {
		share := 0.0
		if r.Totals.Conversions > 0 {
			share = 1
		}
		total = append(total, oneDecimal(r.Totals.Conversions), percent(share))
		for _, c := range curs {
			total = append(total, money(r.Totals.Revenue[c]))
		}
	}
	rows = append(rows, total)
	width := 0
	for _, cells := range rows {
		width = max(width, len([]rune(cells[0])))
	}
	for _, cells := range rows {
		cells[0] += strings.Repeat(" ", width-len([]rune(cells[0])))
		line(cells)
	}
	return tw.Flush()
}

func oneDecimal(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func percent(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }

func money(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
