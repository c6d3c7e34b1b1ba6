package trigger

import (
	"context"
	"errors"

	"github.com/attribution-dev/attribution/internal/attribution"
)

// ErrNotFound reports that nothing is known about a person. People may return it or
// an empty slice; the handler answers 404 for both.
var ErrNotFound = errors.New("person not found")

// People finds a person's touches (people.Resolver does). Both methods return touches
// oldest first.
type People interface {
	// UserTouches returns the touches of a userId across every anonymous id linked to it.
	UserTouches(ctx context.Context, userID string) ([]attribution.Touch, error)
	// AnonymousTouches returns the touches of one anonymous id.
	AnonymousTouches(ctx context.Context, anonymousID string) ([]attribution.Touch, error)
}
