package report

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/attribution-dev/attribution/internal/conversion"
)

// Query is what a report is asked for.
type Query struct {
	Event string
	// From and To are inclusive calendar dates (conversion.DayLayout) in the report time zone.
	From, To string
	Model    string
	By       string
	Limit    int
	// Format is json (the default) or csv.
	Format string
}

// Limits of a query.
const (
	MaxDays          = 731
	DefaultDays      = 30
	DefaultPathLimit = 20
	MaxPathLimit     = 1000
	DefaultBy        = "channel"
)

// ErrBadQuery marks a query a client must fix; its message names the problem.
var ErrBadQuery = errors.New("bad report query")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadQuery, fmt.Sprintf(format, args...))
}

// Parameters the report routes accept.
var (
	ReportParams = []string{"event", "from", "to", "model", "by", "format"}
	PathsParams  = []string{"event", "from", "to", "limit", "format"}
)

// Parser reads queries against the configuration.
type Parser struct {
	// Events are the conversion events (CONVERSION_EVENTS); the first is the default.
	Events   []string
	Location *time.Location
	// Now is the clock that places the default range (time.Now when nil).
	Now func() time.Time
}

// Parse reads the parameters of a query; any parameter not in allowed is an error.
// Without from and to, the report covers the last DefaultDays days up to today.
func (p Parser) Parse(params map[string]string, allowed []string) (Query, error) {
	for _, name := range slices.Sorted(maps.Keys(params)) {
		if !slices.Contains(allowed, name) {
			return Query{}, bad("unknown parameter %q: use %s", name, strings.Join(allowed, ", "))
		}
	}
	q := Query{Event: params["event"], Model: params["model"], By: params["by"], Format: params["format"], Limit: DefaultPathLimit}
	if len(p.Events) == 0 {
		return Query{}, bad("no conversion events are configured: set CONVERSION_EVENTS")
	}
	if q.Event == "" {
		q.Event = p.Events[0]
	}
	if !slices.Contains(p.Events, q.Event) {
		return Query{}, bad("unknown event %q: conversion events are %s", q.Event, strings.Join(p.Events, ", "))
	}
	if q.Model == "" {
		q.Model = DefaultModel
	}
	if _, ok := findModel(q.Model); !ok && q.Model != AllModels {
		return Query{}, bad("unknown model %q: use %s or %s", q.Model, strings.Join(ModelNames(), ", "), AllModels)
	}
	if q.By == "" {
		q.By = DefaultBy
	}
	if !slices.Contains(conversion.Dimensions, q.By) {
		return Query{}, bad("unknown dimension by=%q: use %s", q.By, strings.Join(conversion.Dimensions, ", "))
	}
	switch q.Format {
	case "":
		q.Format = "json"
	case "json", "csv":
	default:
		return Query{}, bad("unknown format %q: use json or csv", q.Format)
	}
	if v, ok := params["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPathLimit {
			return Query{}, bad("limit must be a whole number from 1 to %d", MaxPathLimit)
		}
		q.Limit = n
	}
	return q, p.dates(&q, params["from"], params["to"])
}

func (p Parser) dates(q *Query, from, to string) error {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	parse := func(name, v string) (time.Time, error) {
		d, err := time.ParseInLocation(conversion.DayLayout, v, time.UTC)
		if err != nil {
			return time.Time{}, bad("%s=%q is not a date: use YYYY-MM-DD", name, v)
		}
		return d, nil
	}
	var f, t time.Time
	var err error
	if to == "" {
		today := now().In(loc)
		t = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	} else if t, err = parse("to", to); err != nil {
		return err
	}
	if from == "" {
		f = t.AddDate(0, 0, -(DefaultDays - 1))
	} else if f, err = parse("from", from); err != nil {
		return err
	}
	if f.After(t) {
		return bad("from %s is after to %s", f.Format(conversion.DayLayout), t.Format(conversion.DayLayout))
	}
	if days := int(t.Sub(f).Hours()/24) + 1; days > MaxDays {
		return bad("the range covers %d days; at most %d are allowed", days, MaxDays)
	}
	q.From, q.To = f.Format(conversion.DayLayout), t.Format(conversion.DayLayout)
	return nil
}
