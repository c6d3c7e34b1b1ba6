package report

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/conversion"
)

// ReportCSV is a report as CSV: key, conversions, share, revenue_<CURRENCY>..., and for
// the model comparison <model>_conversions and <model>_revenue_<CURRENCY> per model.
// The last line is the totals (key "(total)").
func ReportCSV(r Report) string {
	curs := Currencies(r.Totals.Revenue)
	header := []string{"key", "conversions", "share"}
	for _, c := range curs {
		header = append(header, "revenue_"+c)
	}
	all := r.Model == AllModels
	if all {
		for _, m := range r.ModelNames() {
			header = append(header, m+"_conversions")
			for _, c := range curs {
				header = append(header, m+"_revenue_"+c)
			}
		}
	}
	lines := [][]string{header}
	for _, row := range r.Rows {
		line := []string{row.Key, num(row.Conversions), num(row.Share)}
		line = appendRevenue(line, curs, row.Revenue)
		if all {
			for _, m := range r.ModelNames() {
				a := row.Models[m]
				line = append(line, num(a.Conversions))
				line = appendRevenue(line, curs, a.Revenue)
			}
		}
		lines = append(lines, line)
	}
	total := []string{"(total)", num(r.Totals.Conversions), num(1)}
	if r.Totals.Conversions == 0 {
		total[2] = num(0)
	}
	total = appendRevenue(total, curs, r.Totals.Revenue)
	if all {
		for range r.ModelNames() {
			total = append(total, num(r.Totals.Conversions))
			total = appendRevenue(total, curs, r.Totals.Revenue)
		}
	}
	return writeCSV(append(lines, total))
}

// PathsCSV is a paths report as CSV: path (channels joined by " > "), conversions,
// revenue_<CURRENCY>...
func PathsCSV(p Paths) string {
	curs := Currencies(p.Totals.Revenue)
	header := []string{"path", "conversions"}
	for _, c := range curs {
		header = append(header, "revenue_"+c)
	}
	lines := [][]string{header}
	for _, path := range p.Paths {
		lines = append(lines, appendRevenue([]string{strings.Join(path.Path, conversion.PathSeparator), num(path.Conversions)}, curs, path.Revenue))
	}
	return writeCSV(lines)
}

// ConversionsCSV is a person's conversions as CSV, one line per credited touch (one
// with an empty touch for a conversion without touches), with credit_<model> per model.
func ConversionsCSV(cs []conversion.Conversion) string {
	header := []string{"message_id", "event", "timestamp", "value", "currency", "touch_message_id", "touch_timestamp", "channel"}
	for _, m := range attribution.Models() {
		header = append(header, "credit_"+string(m))
	}
	lines := [][]string{header}
	for _, c := range cs {
		head := []string{c.MessageID, c.Event, attribution.FormatTimestamp(c.Timestamp), num(c.Value), c.Currency}
		if len(c.Touches) == 0 {
			line := append(append([]string{}, head...), "", "", conversion.NoTouch)
			for range attribution.Models() {
				line = append(line, num(1))
			}
			lines = append(lines, line)
		}
		for _, t := range c.Touches {
			line := append(append([]string{}, head...), t.MessageID, attribution.FormatTimestamp(t.Timestamp), t.Labels[0])
			for _, m := range attribution.Models() {
				line = append(line, num(t.Credits[m]))
			}
			lines = append(lines, line)
		}
	}
	return writeCSV(lines)
}

func appendRevenue(line, curs []string, revenue map[string]float64) []string {
	for _, c := range curs {
		line = append(line, num(revenue[c]))
	}
	return line
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func writeCSV(lines [][]string) string {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.WriteAll(lines) // a bytes.Buffer does not fail
	return buf.String()
}
