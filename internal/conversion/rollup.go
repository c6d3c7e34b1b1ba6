package conversion

import (
	"bytes"
	"cmp"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/attribution-dev/attribution/internal/attribution"
)

// PathSeparator joins a path's channels in rollups and in the model's paths file format.
const PathSeparator = " > "

// Amount is credited conversions and the revenue they bring, per currency.
type Amount struct {
	Conversions float64            `json:"c"`
	Revenue     map[string]float64 `json:"r,omitempty"`
}

func (a *Amount) add(conversions float64, currency string, revenue float64) {
	a.Conversions += conversions
	if a.Revenue == nil {
		a.Revenue = map[string]float64{}
	}
	a.Revenue[currency] += revenue
}

func (a *Amount) merge(o *Amount) {
	a.Conversions += o.Conversions
	for cur, v := range o.Revenue {
		if a.Revenue == nil {
			a.Revenue = map[string]float64{}
		}
		a.Revenue[cur] += v
	}
}

// Rollup sums credited conversions: in total, per row of every dimension under every
// model, and per path. Rollups of disjoint sets of conversions merge into the rollup of
// their union, which is what makes per-day rollups add up to any range of days.
type Rollup struct {
	// Total counts conversions (each is 1 under every model) and their value.
	Total Amount `json:"t"`
	// Rows: dimension → row label → model → amount.
	Rows map[string]map[string]map[attribution.Model]*Amount `json:"d,omitempty"`
	// Paths: channels joined by PathSeparator → conversions (whole ones) and value.
	Paths map[string]*Amount `json:"p,omitempty"`
	// TouchesToConvert: touches in the window → conversions.
	TouchesToConvert map[int]float64 `json:"n,omitempty"`
	// DaysToConvert: whole days from the window's first touch → conversions.
	DaysToConvert map[int]float64 `json:"y,omitempty"`
}

// Add counts c into r.
func (r *Rollup) Add(c Conversion) {
	r.Total.add(1, c.Currency, c.Value)
	r.init()
	if len(c.Touches) == 0 {
		for _, dim := range Dimensions {
			for _, m := range attribution.Models() {
				r.amount(dim, NoTouch, m).add(1, c.Currency, c.Value)
			}
		}
		r.path(NoTouch).add(1, c.Currency, c.Value)
		r.TouchesToConvert[0]++
		return
	}
	channels := make([]string, len(c.Touches))
	for i, t := range c.Touches {
		channels[i] = t.Labels[0]
		for m, credit := range t.Credits {
			for d, dim := range Dimensions {
				r.amount(dim, t.Labels[d], m).add(credit, c.Currency, credit*c.Value)
			}
		}
	}
	r.path(strings.Join(channels, PathSeparator)).add(1, c.Currency, c.Value)
	r.TouchesToConvert[len(c.Touches)]++
	r.DaysToConvert[int(c.Timestamp.Sub(c.Touches[0].Timestamp).Hours()/24)]++
}

// Merge adds o into r.
func (r *Rollup) Merge(o *Rollup) {
	r.init()
	r.Total.merge(&o.Total)
	for dim, rows := range o.Rows {
		for label, models := range rows {
			for m, a := range models {
				r.amount(dim, label, m).merge(a)
			}
		}
	}
	for p, a := range o.Paths {
		r.path(p).merge(a)
	}
	for n, v := range o.TouchesToConvert {
		r.TouchesToConvert[n] += v
	}
	for n, v := range o.DaysToConvert {
		r.DaysToConvert[n] += v
	}
}

// Dimension is r with only dim's rows and the total: what a report by dim reads.
func (r *Rollup) Dimension(dim string) *Rollup {
	return &Rollup{Total: r.Total, Rows: map[string]map[string]map[attribution.Model]*Amount{dim: r.Rows[dim]}}
}

// PathsOnly is r with only the total, the paths and their statistics.
func (r *Rollup) PathsOnly() *Rollup {
	return &Rollup{Total: r.Total, Paths: r.Paths, TouchesToConvert: r.TouchesToConvert, DaysToConvert: r.DaysToConvert}
}

func (r *Rollup) init() {
	if r.Rows == nil {
		r.Rows = map[string]map[string]map[attribution.Model]*Amount{}
	}
	if r.Paths == nil {
		r.Paths = map[string]*Amount{}
	}
	if r.TouchesToConvert == nil {
		r.TouchesToConvert = map[int]float64{}
	}
	if r.DaysToConvert == nil {
		r.DaysToConvert = map[int]float64{}
	}
}

func (r *Rollup) amount(dim, label string, m attribution.Model) *Amount {
	rows := r.Rows[dim]
	if rows == nil {
		rows = map[string]map[attribution.Model]*Amount{}
		r.Rows[dim] = rows
	}
	models := rows[label]
	if models == nil {
		models = map[attribution.Model]*Amount{}
		rows[label] = models
	}
	a := models[m]
	if a == nil {
		a = &Amount{}
		models[m] = a
	}
	return a
}

func (r *Rollup) path(p string) *Amount {
	a := r.Paths[p]
	if a == nil {
		a = &Amount{}
		r.Paths[p] = a
	}
	return a
}

// Compressors are pooled: a flate writer allocates over a megabyte of state, which would
// otherwise dominate the cost of storing a conversion.
var (
	writers = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestSpeed) // BestSpeed is a valid level: no error
		return w
	}}
	readers = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}
)

// Encode is v as compressed JSON: rollups of busy days list many landing pages, and
// compression keeps them far below DynamoDB's 400 KB item limit and cheap to read.
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	w := writers.Get().(*flate.Writer)
	defer writers.Put(w)
	w.Reset(&buf)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode reads what Encode wrote into v.
func Decode(b []byte, v any) error {
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(b), nil); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// sortTouches orders touches oldest first, ties by messageId, as attribution does.
func sortTouches(ts []Touch) {
	slices.SortFunc(ts, func(a, b Touch) int {
		return cmp.Or(a.Timestamp.Compare(b.Timestamp), strings.Compare(a.MessageID, b.MessageID))
	})
}
