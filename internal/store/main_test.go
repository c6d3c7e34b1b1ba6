package store_test

import (
	"testing"

	"github.com/attribution-dev/attribution/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
