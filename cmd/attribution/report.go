package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/datadriven"
	"github.com/attribution-dev/attribution/internal/precompute"
	"github.com/attribution-dev/attribution/internal/report"
)

// runReport prints a report from the tables, as GET /api/report answers it.
func runReport(ctx context.Context, args []string) error {
	fs := newFlags("report", "report [-event E] [-from D] [-to D] [-model M|all] [-by B] [-format table|csv|json] [-refresh]",
		"Prints a conversions report from the tables, as GET /api/report answers it: credited\n"+
			"conversions, share and revenue per row of the dimension, under one model or all side by side.")
	event := fs.String("event", "", "conversion event (default: the first of CONVERSION_EVENTS)")
	from := fs.String("from", "", "first day, YYYY-MM-DD in REPORT_TIMEZONE (default: 29 days before -to)")
	to := fs.String("to", "", "last day, YYYY-MM-DD (default: today)")
	model := fs.String("model", "", "attribution model, or all to compare them (default: "+report.DefaultModel+")")
	by := fs.String("by", "", "dimension (default: channel)")
	format := fs.String("format", "table", "table, csv or json")
	refresh := fs.Bool("refresh", false, "first recompute markov and shapley: for -from/-to when given, else for the ranges the daily refresh serves")
	if err := fs.Parse(args); err != nil {
		return err
	}
	params := map[string]string{}
	for name, v := range map[string]string{"event": *event, "from": *from, "to": *to, "model": *model, "by": *by} {
		if v != "" {
			params[name] = v
		}
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		return fmt.Errorf("-format %q: use table, csv or json", *format)
	}
	env, err := operatorEnv(ctx)
	if err != nil {
		return err
	}
	h := env.Reports()
	q, err := h.Parser.Parse(params, report.ReportParams)
	if err != nil {
		return err
	}
	if *refresh {
		if err := refreshDataDriven(ctx, env, q, *from != "" || *to != ""); err != nil {
			return err
		}
	}
	rep, err := h.Reporter.Report(ctx, q)
	if err != nil {
		return err
	}
	switch *format {
	case "csv":
		_, err = fmt.Fprint(os.Stdout, report.ReportCSV(rep))
	case "json":
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	default:
		err = report.WriteTable(os.Stdout, rep)
	}
	return err
}

// refreshDataDriven recomputes the data-driven models as the scheduled function does
// (its trailing ranges, pruning others), or for q's range alone when one was given.
func refreshDataDriven(ctx context.Context, env app.Env, q report.Query, ranged bool) error {
	p := env.Precomputer()
	ranges, prune := precompute.TrailingRanges(time.Now(), env.Config.ReportLocation), true
	if ranged {
		ranges, prune = []datadriven.Range{{From: q.From, To: q.To}}, false
	}
	sum, err := p.Refresh(ctx, ranges, prune)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "refreshed markov and shapley over %d range(s): %d links, %d touches, %d people, conversions %v\n",
		len(sum.Ranges), sum.Links, sum.Touches, sum.People, sum.Conversions)
	return nil
}
