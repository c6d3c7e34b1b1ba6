package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/store"
)

// BenchmarkLinkPut measures what the merge caps add to storing an identity link: a new
// link each iteration (a device identifying), against dynalite.
func BenchmarkLinkPut(b *testing.B) {
	for _, capped := range []bool{false, true} {
		b.Run(fmt.Sprintf("capped=%v", capped), func(b *testing.B) {
			db, tables := dbtest.New(b)
			ids := store.NewIdentities(db, tables.Identities)
			if capped {
				ids.MaxAnonymousIDsPerUser, ids.MaxUsersPerAnonymousID = 200, 10
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				l := link(fmt.Sprintf("user-%d", i/100), fmt.Sprintf("device-%d", i), "m", t0)
				if err := ids.Put(ctx, l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
