package datadriven

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOwnersPersons(t *testing.T) {
	o := NewOwners([]Link{
		{UserID: "ann", AnonymousID: "a1"},
		{UserID: "bob", AnonymousID: "a1"}, // a shared device: both people's touch
		{UserID: "ann", AnonymousID: "a2"},
		{UserID: "ann", AnonymousID: "old-ann", Aliased: true},
	})
	for _, tc := range []struct {
		visitor, user string
		want          []string
	}{
		{"a1", "", []string{"user:ann", "user:bob"}},
		{"a2", "", []string{"user:ann"}},
		{"a2", "ann", []string{"user:ann"}},
		{"a3", "", []string{"anon:a3"}},
		{"a3", "carol", []string{"user:carol"}},
		{"user:dave", "dave", []string{"user:dave"}},
		// The alias's previousId as a userId, as visitor and as the touch's userId.
		{"user:old-ann", "old-ann", []string{"user:ann", "user:old-ann"}},
		{"a9", "old-ann", []string{"user:ann", "user:old-ann"}},
	} {
		assert.Equal(t, tc.want, o.Persons(tc.visitor, tc.user), "%s/%s", tc.visitor, tc.user)
	}
}
