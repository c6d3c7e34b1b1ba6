// Package datadriven computes the data-driven models (markov, shapley) of a report: it
// builds the paths of one conversion event over a range of days from the conversions and
// every person's touches, and credits each dimension's rows over them. It is pure: plain
// values in and out; reading the tables and storing the result belong to its callers.
//
// Unlike the rule-based models, these are not sums of per-conversion credits: a range's
// answer depends on every path in it, non-converting ones included, so it cannot be
// assembled from per-day rollups and is computed per range.
package datadriven

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/attribution-dev/attribution/internal/attribution"
)

// NotSet is the row of a touch without the dimension's value.
const NotSet = "(not set)"

// Other is the row the rarest labels of a dimension with more than MaxLabels are folded
// into.
const Other = "(other)"

// MaxLabels bounds the distinct rows of one dimension the models are solved over. Markov
// costs O(n³) in time and O(n²) in memory for n rows: 500 keeps a range under a second
// and 2 MB, where a site's every landing page could otherwise run to tens of thousands.
// The most frequent labels (by touches on the range's paths) keep their row.
const MaxLabels = 500

// NoTouch is the row of conversions with no touch in their window, as in the rule-based
// rows: they are credited to it in full under every model.
const NoTouch = "(none)"

// Range is an inclusive range of report days (YYYY-MM-DD in the report time zone).
type Range struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Contains reports whether day (YYYY-MM-DD) is in r; the layout sorts as text.
func (r Range) Contains(day string) bool { return r.From <= day && day <= r.To }

func (r Range) String() string { return r.From + ".." + r.To }

// Touch is one touch as paths see it: when it happened and its row under each dimension.
type Touch struct {
	MessageID string
	Time      time.Time
	// Day is Time's calendar date in the report time zone.
	Day string
	// Labels[d] is the touch's row under dimension d (the caller's order of dimensions).
	Labels []string
}

// Conversion is one conversion of the event being reported and the touches in its
// lookback window (any order).
type Conversion struct {
	Person   string
	Day      string
	Value    float64
	Currency string
	Touches  []Touch
}

// Amount is what a model credits to one row: fractional conversions and their revenue
// per currency.
type Amount struct {
	Conversions float64            `json:"conversions"`
	Revenue     map[string]float64 `json:"revenue"`
}

// Rows are one dimension's rows: label → model → amount.
type Rows map[string]map[attribution.Model]Amount

// Input is everything one range's data-driven rows are computed from.
type Input struct {
	Range Range
	// Dimensions names the dimensions Touch.Labels follow, in order.
	Dimensions []string
	// Conversions are the event's conversions; those outside Range are ignored.
	Conversions []Conversion
	// People maps each person (the Conversion.Person key) to their touches, any order;
	// those outside Range are ignored.
	People map[string][]Touch
}

// Result is the markov and shapley rows of every dimension over one range.
type Result struct {
	Range Range `json:"range"`
	// Conversions and Nulls count the converting and non-converting paths.
	Conversions float64 `json:"conversions"`
	Nulls       float64 `json:"nulls"`
	// Rows maps each dimension to its rows.
	Rows map[string]Rows `json:"rows"`
}

// Compute builds the range's paths and credits them under every data-driven model, for
// every dimension:
//
//   - each conversion in the range is a converting path: its window's touches, oldest
//     first, as the dimension labels them (one conversion, its value);
//   - each person with touches in the range and no conversion in it is a non-converting
//     path of those touches (one null);
//   - a conversion without touches is credited to NoTouch in full.
//
// Revenue is credited per currency with each model's shares: markov's channel shares, or
// shapley's per-path shares weighted by that currency's value.
func Compute(in Input) (Result, error) {
	res := Result{Range: in.Range, Rows: make(map[string]Rows, len(in.Dimensions))}
	converted := map[string]bool{}
	var conversions []Conversion
	for _, c := range in.Conversions {
		if in.Range.Contains(c.Day) {
			for _, t := range c.Touches {
				if err := checkLabels(t, in.Dimensions); err != nil {
					return Result{}, fmt.Errorf("data-driven rows of %s: conversion of %s: %w", in.Range, c.Person, err)
				}
			}
			conversions = append(conversions, c)
			converted[c.Person] = true
		}
	}
	var journeys [][]Touch
	for person, touches := range in.People {
		if converted[person] {
			continue
		}
		var j []Touch
		for _, t := range touches {
			if in.Range.Contains(t.Day) {
				if err := checkLabels(t, in.Dimensions); err != nil {
					return Result{}, fmt.Errorf("data-driven rows of %s: touches of %s: %w", in.Range, person, err)
				}
				j = append(j, t)
			}
		}
		if len(j) > 0 {
			journeys = append(journeys, sortedTouches(j))
		}
	}
	res.Conversions, res.Nulls = float64(len(conversions)), float64(len(journeys))

	currencies := map[string]bool{}
	for _, c := range conversions {
		currencies[c.Currency] = true
	}
	for d, dim := range in.Dimensions {
		rows, err := dimensionRows(d, conversions, journeys, sortedKeys(currencies))
		if err != nil {
			return Result{}, fmt.Errorf("data-driven rows of %s by %s: %w", in.Range, dim, err)
		}
		res.Rows[dim] = rows
	}
	return res, nil
}

func dimensionRows(d int, conversions []Conversion, journeys [][]Touch, currencies []string) (Rows, error) {
	rows := Rows{}
	amount := func(label string, m attribution.Model) Amount {
		models := rows[label]
		if models == nil {
			models = map[attribution.Model]Amount{}
			rows[label] = models
		}
		a := models[m]
		if a.Revenue == nil {
			a.Revenue = map[string]float64{}
		}
		return a
	}
	set := func(label string, m attribution.Model, a Amount) { rows[label][m] = a }

	// paths[i] and currency[i]: one path per conversion (Value filled per currency
	// below), then one per non-converting journey.
	paths := make([]attribution.Path, 0, len(conversions)+len(journeys))
	var pathCurrency []string
	var pathValue []float64
	for _, c := range conversions {
		if len(c.Touches) == 0 {
			for _, m := range attribution.DataDrivenModels() {
				a := amount(NoTouch, m)
				a.Conversions++
				a.Revenue[c.Currency] += c.Value
				set(NoTouch, m, a)
			}
			continue
		}
		paths = append(paths, attribution.Path{Channels: labels(sortedTouches(slices.Clone(c.Touches)), d), Conversions: 1})
		pathCurrency = append(pathCurrency, c.Currency)
		pathValue = append(pathValue, c.Value)
	}
	for _, j := range journeys {
		paths = append(paths, attribution.Path{Channels: labels(j, d), Nulls: 1})
	}
	if len(pathCurrency) == 0 {
		return rows, nil
	}
	foldRareLabels(paths, MaxLabels)
	// One path set per currency: the models' shares do not depend on value, so the
	// conversions come out the same from each, and each gives its currency's revenue.
	for ci, cur := range currencies {
		for i := range pathCurrency {
			paths[i].Value = 0
			if pathCurrency[i] == cur {
				paths[i].Value = pathValue[i]
			}
		}
		ps, err := attribution.NewPathSet(paths)
		if err != nil {
			return nil, err
		}
		for _, m := range attribution.DataDrivenModels() {
			credits, err := ps.Credits(m)
			if err != nil {
				return nil, err
			}
			for _, c := range credits {
				if c.Conversions == 0 && c.Value == 0 {
					continue
				}
				a := amount(c.Channel, m)
				if ci == 0 {
					a.Conversions += c.Conversions
				}
				if c.Value != 0 {
					a.Revenue[cur] += c.Value
				}
				set(c.Channel, m, a)
			}
		}
	}
	return rows, nil
}

// foldRareLabels renames in place every label but the max−1 most frequent to Other, when
// there are more than max; ties go to the label that sorts first, so the fold is the
// same on every run.
func foldRareLabels(paths []attribution.Path, max int) {
	counts := map[string]int{}
	for _, p := range paths {
		for _, c := range p.Channels {
			counts[c]++
		}
	}
	if len(counts) <= max {
		return
	}
	labels := make([]string, 0, len(counts))
	for l := range counts {
		labels = append(labels, l)
	}
	slices.SortFunc(labels, func(a, b string) int { return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b)) })
	keep := make(map[string]bool, max-1)
	for _, l := range labels[:max-1] {
		keep[l] = true
	}
	for i := range paths {
		for j, c := range paths[i].Channels {
			if !keep[c] {
				paths[i].Channels[j] = Other
			}
		}
	}
}

func checkLabels(t Touch, dims []string) error {
	if len(t.Labels) != len(dims) {
		return fmt.Errorf("touch %s has %d labels for %d dimensions", t.MessageID, len(t.Labels), len(dims))
	}
	return nil
}

func labels(touches []Touch, d int) []string {
	out := make([]string, len(touches))
	for i, t := range touches {
		out[i] = cmp.Or(t.Labels[d], NotSet)
	}
	return out
}

// sortedTouches orders touches oldest first, ties by messageId, as the rule-based models
// do, so a path reads the same whatever order the store returned the touches in.
func sortedTouches(ts []Touch) []Touch {
	slices.SortFunc(ts, func(a, b Touch) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.MessageID, b.MessageID))
	})
	return ts
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
