// Package report answers which channels, sources and campaigns bring the conversions
// and the revenue: GET /api/report (one model or the model comparison), GET
// /api/report/paths, GET /api/user/{id}/conversions and `attribution report`. Reports
// read the per-day rollups package ledger keeps, so they cost one Query over the days
// they cover, whatever the number of conversions.
package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/datadriven"
	"github.com/attribution-dev/attribution/internal/precompute"
	"github.com/attribution-dev/attribution/internal/store"
)

// Model is one model reports know.
type Model struct {
	Name string
	// DataDriven models are computed over a range's paths rather than per conversion:
	// their rows come from the precomputation (Reporter.Precomputed), not the rollups.
	DataDriven bool
}

// Models is the one list of models reports offer, in the order they show them: model=M
// accepts these names, and model=all and the CLI's comparison iterate it.
var Models = func() []Model {
	var out []Model
	for _, m := range attribution.Models() {
		out = append(out, Model{Name: string(m)})
	}
	for _, m := range attribution.DataDrivenModels() {
		out = append(out, Model{Name: string(m), DataDriven: true})
	}
	return out
}()

// DefaultModel is the model of a report that names none, and the model whose numbers a
// model=all row carries at its top level: linear credits every touch of the journey.
const DefaultModel = string(attribution.ModelLinear)

// AllModels is the model parameter of the model comparison.
const AllModels = "all"

// ModelNames lists Models' names.
func ModelNames() []string {
	names := make([]string, len(Models))
	for i, m := range Models {
		names[i] = m.Name
	}
	return names
}

func findModel(name string) (Model, bool) {
	for _, m := range Models {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// Amount is credited conversions and their revenue per currency.
type Amount struct {
	Conversions float64            `json:"conversions"`
	Revenue     map[string]float64 `json:"revenue"`
}

// Totals are a report's conversions (each counts 1) and their value per currency.
type Totals = Amount

// Row is one row of a report.
type Row struct {
	Key         string             `json:"key"`
	Conversions float64            `json:"conversions"`
	Revenue     map[string]float64 `json:"revenue"`
	Share       float64            `json:"share"`
	// Models is every model's amount, in the model comparison (model=all).
	Models map[string]Amount `json:"models,omitempty"`
}

// Report answers GET /api/report.
type Report struct {
	Event        string `json:"event"`
	From         string `json:"from"`
	To           string `json:"to"`
	Model        string `json:"model"`
	By           string `json:"by"`
	LookbackDays int    `json:"lookbackDays"`
	Totals       Totals `json:"totals"`
	Rows         []Row  `json:"rows"`
	// ComputedAt is when the data-driven rows were precomputed, when the report has any.
	ComputedAt *time.Time `json:"computedAt,omitempty"`
	// NotPrecomputed says why the model comparison lacks the data-driven models.
	NotPrecomputed string `json:"notPrecomputed,omitempty"`
}

// ModelNames lists the models r shows, in Models' order: the model comparison without
// the data-driven models when they were not precomputed for its range.
func (r Report) ModelNames() []string {
	if r.Model != AllModels {
		return []string{r.Model}
	}
	var names []string
	for _, m := range Models {
		if !m.DataDriven || r.NotPrecomputed == "" {
			names = append(names, m.Name)
		}
	}
	return names
}

// Path is one conversion path: the channels of a conversion's touches, oldest first.
type Path struct {
	Path        []string           `json:"path"`
	Conversions float64            `json:"conversions"`
	Revenue     map[string]float64 `json:"revenue"`
}

// Paths answers GET /api/report/paths.
type Paths struct {
	Event            string             `json:"event"`
	From             string             `json:"from"`
	To               string             `json:"to"`
	LookbackDays     int                `json:"lookbackDays"`
	Totals           Totals             `json:"totals"`
	Paths            []Path             `json:"paths"`
	TouchesToConvert map[string]float64 `json:"touchesToConvert"`
	DaysToConvert    map[string]float64 `json:"daysToConvert"`
}

// Rollups reads summed day rollups (store.Conversions does).
type Rollups interface {
	Rollup(ctx context.Context, event, dimension, from, to string) (*conversion.Rollup, error)
}

var _ Rollups = (*store.Conversions)(nil)

// Precomputed reads the data-driven models' precomputation (store.Conversions does).
type Precomputed interface {
	Precomputed(ctx context.Context, event string, r datadriven.Range, dimension string) (store.Precomputed, error)
	PrecomputedRanges(ctx context.Context, event string) ([]store.PrecomputedRange, error)
}

var _ Precomputed = (*store.Conversions)(nil)

// ErrNotPrecomputed is returned (wrapped, with the ranges that are) for a data-driven
// model asked over a range the precomputation does not hold.
var ErrNotPrecomputed = errors.New("not precomputed")

// Reporter builds reports from the rollups, and the data-driven models from their
// precomputation.
type Reporter struct {
	Rollups      Rollups
	Precomputed  Precomputed
	LookbackDays int
}

// precomputed reads the data-driven rows of q's event, range and dimension: one
// GetItem, and one Query of the precomputed ranges' keys when they are missing, to say
// which ranges there are.
func (r *Reporter) precomputed(ctx context.Context, q Query) (store.Precomputed, error) {
	rg := datadriven.Range{From: q.From, To: q.To}
	if r.Precomputed == nil {
		return store.Precomputed{}, fmt.Errorf("%w: the data-driven models are not set up here", ErrNotPrecomputed)
	}
	p, err := r.Precomputed.Precomputed(ctx, q.Event, rg, q.By)
	if !errors.Is(err, store.ErrNotPrecomputed) {
		return p, err
	}
	have, err := r.Precomputed.PrecomputedRanges(ctx, q.Event)
	if err != nil {
		return store.Precomputed{}, err
	}
	names := make([]string, len(have))
	for i, h := range have {
		names[i] = h.From + " to " + h.To
	}
	held := "none yet"
	if len(names) > 0 {
		held = strings.Join(names, ", ")
	}
	days := make([]string, len(precompute.TrailingDays))
	for i, n := range precompute.TrailingDays {
		days[i] = strconv.Itoa(n)
	}
	return store.Precomputed{}, fmt.Errorf("%w: markov and shapley for %s from %s to %s are computed ahead, daily, for the last %s days "+
		"ending today or yesterday (held: %s); `attribution report -refresh -event %q -from %s -to %s` computes this range",
		ErrNotPrecomputed, q.Event, q.From, q.To, strings.Join(days, ", "), held, q.Event, q.From, q.To)
}

// Report builds the report q asks for.
func (r *Reporter) Report(ctx context.Context, q Query) (Report, error) {
	roll, err := r.Rollups.Rollup(ctx, q.Event, q.By, q.From, q.To)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Event: q.Event, From: q.From, To: q.To, Model: q.Model, By: q.By, LookbackDays: r.LookbackDays,
		Totals: amount(&roll.Total), Rows: []Row{}}
	rep.Totals.Conversions = roll.Total.Conversions

	models := Models
	if q.Model != AllModels {
		m, _ := findModel(q.Model)
		models = []Model{m}
	}
	var pre *store.Precomputed
	if slices.ContainsFunc(models, func(m Model) bool { return m.DataDriven }) {
		p, err := r.precomputed(ctx, q)
		switch {
		case errors.Is(err, ErrNotPrecomputed) && q.Model == AllModels:
			// The comparison still answers, with every rule-based model.
			rep.NotPrecomputed = strings.TrimPrefix(err.Error(), ErrNotPrecomputed.Error()+": ")
			models = slices.DeleteFunc(slices.Clone(models), func(m Model) bool { return m.DataDriven })
		case err != nil:
			return Report{}, fmt.Errorf("data-driven rows: %w", err)
		default:
			pre = &p
			rep.ComputedAt = &p.ComputedAt
		}
	}
	perModel := map[string]map[string]Amount{}
	for _, m := range models {
		if m.DataDriven {
			rows := map[string]Amount{}
			for key, byModel := range pre.Rows {
				if a, ok := byModel[attribution.Model(m.Name)]; ok {
					rows[key] = Amount{Conversions: a.Conversions, Revenue: map[string]float64{}}
					maps.Copy(rows[key].Revenue, a.Revenue)
				}
			}
			perModel[m.Name] = rows
			continue
		}
		rows := map[string]Amount{}
		for key, byModel := range roll.Rows[q.By] {
			if a := byModel[attribution.Model(m.Name)]; a != nil {
				rows[key] = amount(a)
			}
		}
		perModel[m.Name] = rows
	}
	headline := q.Model
	if q.Model == AllModels {
		headline = DefaultModel
	}
	keys := map[string]bool{}
	for _, rows := range perModel {
		for k, a := range rows {
			if a.Conversions > 0 {
				keys[k] = true
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		a, ok := perModel[headline][k]
		if !ok {
			a = Amount{Revenue: map[string]float64{}}
		}
		row := Row{Key: k, Conversions: a.Conversions, Revenue: a.Revenue}
		if rep.Totals.Conversions > 0 {
			row.Share = a.Conversions / rep.Totals.Conversions
		}
		if q.Model == AllModels {
			row.Models = map[string]Amount{}
			for _, m := range models {
				ma, ok := perModel[m.Name][k]
				if !ok {
					ma = Amount{Revenue: map[string]float64{}}
				}
				row.Models[m.Name] = ma
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	slices.SortStableFunc(rep.Rows, func(a, b Row) int { return cmp.Compare(b.Conversions, a.Conversions) })
	return rep, nil
}

// Paths builds the paths report q asks for, the limit most frequent paths first.
func (r *Reporter) Paths(ctx context.Context, q Query) (Paths, error) {
	roll, err := r.Rollups.Rollup(ctx, q.Event, store.PathsRollup, q.From, q.To)
	if err != nil {
		return Paths{}, err
	}
	out := Paths{Event: q.Event, From: q.From, To: q.To, LookbackDays: r.LookbackDays, Totals: amount(&roll.Total),
		Paths: []Path{}, TouchesToConvert: map[string]float64{}, DaysToConvert: map[string]float64{}}
	for p, a := range roll.Paths {
		out.Paths = append(out.Paths, Path{Path: strings.Split(p, conversion.PathSeparator), Conversions: a.Conversions, Revenue: amount(a).Revenue})
	}
	slices.SortFunc(out.Paths, func(a, b Path) int {
		return cmp.Or(cmp.Compare(b.Conversions, a.Conversions), slices.Compare(a.Path, b.Path))
	})
	if len(out.Paths) > q.Limit {
		out.Paths = out.Paths[:q.Limit]
	}
	for n, v := range roll.TouchesToConvert {
		out.TouchesToConvert[strconv.Itoa(n)] = v
	}
	for n, v := range roll.DaysToConvert {
		out.DaysToConvert[strconv.Itoa(n)] = v
	}
	return out, nil
}

func amount(a *conversion.Amount) Amount {
	out := Amount{Conversions: a.Conversions, Revenue: map[string]float64{}}
	maps.Copy(out.Revenue, a.Revenue)
	return out
}

// Currencies lists the currencies of amounts, sorted: the revenue columns of a table.
func Currencies(revenues ...map[string]float64) []string {
	set := map[string]bool{}
	for _, r := range revenues {
		for c := range r {
			set[c] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
