package store

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/conversion"
)

func TestDecodedKeepsTheLatestByContent(t *testing.T) {
	encode := func(c float64) []byte {
		b, err := conversion.Encode(conversion.Rollup{Total: conversion.Amount{Conversions: c}})
		require.NoError(t, err)
		return b
	}
	d := newDecoded[conversion.Rollup](2)
	one, err := d.get(encode(1))
	require.NoError(t, err)
	assert.Equal(t, 1.0, one.Total.Conversions)
	again, err := d.get(encode(1))
	require.NoError(t, err)
	assert.Same(t, one, again, "the same bytes are decoded once")
	two, err := d.get(encode(2))
	require.NoError(t, err)
	assert.Equal(t, 2.0, two.Total.Conversions)

	_, err = d.get(encode(3)) // the oldest, 1, leaves
	require.NoError(t, err)
	fresh, err := d.get(encode(1))
	require.NoError(t, err)
	assert.NotSame(t, one, fresh)
	assert.Equal(t, 1.0, fresh.Total.Conversions)
	assert.Len(t, d.byKey, 2)

	_, err = d.get([]byte("not deflate"))
	assert.Error(t, err)
}
