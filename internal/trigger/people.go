package trigger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/store"
)

// ErrNotFound reports that nothing is known about a person. People may return it or
// an empty slice; the handler answers 404 for both.
var ErrNotFound = errors.New("person not found")

// People finds a person's touches. Both methods return touches oldest first.
type People interface {
	// UserTouches returns the touches of a userId across every anonymous id linked to it.
	UserTouches(ctx context.Context, userID string) ([]attribution.Touch, error)
	// AnonymousTouches returns the touches of one anonymous id.
	AnonymousTouches(ctx context.Context, anonymousID string) ([]attribution.Touch, error)
}

// TouchStore is what StorePeople reads; *store.Touches is one.
type TouchStore interface {
	ByVisitor(ctx context.Context, visitorID string) ([]attribution.Touch, error)
	ByUser(ctx context.Context, userID string) ([]attribution.Touch, error)
}

var (
	_ TouchStore = (*store.Touches)(nil)
	_ People     = StorePeople{}
)

// StorePeople is People over the touches table alone. A user's touches are those whose
// page events carried the userId, plus the touches of every anonymous id LinkedAnonymousIDs
// names; without it, touches from before the user identified are not found. It exists so
// the triggers work end to end before identity resolution lands, and can take the
// identities repository through LinkedAnonymousIDs later.
type StorePeople struct {
	Touches TouchStore
	// LinkedAnonymousIDs lists the anonymous ids linked to a userId; nil means none.
	LinkedAnonymousIDs func(ctx context.Context, userID string) ([]string, error)
}

// UserTouches implements People.
func (p StorePeople) UserTouches(ctx context.Context, userID string) ([]attribution.Touch, error) {
	touches, err := p.Touches.ByUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("touches of user %s: %w", userID, err)
	}
	if p.LinkedAnonymousIDs == nil {
		return touches, nil
	}
	anonIDs, err := p.LinkedAnonymousIDs(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("anonymous ids of user %s: %w", userID, err)
	}
	for _, a := range anonIDs {
		more, err := p.Touches.ByVisitor(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("touches of user %s, anonymous id %s: %w", userID, a, err)
		}
		touches = append(touches, more...)
	}
	// A touch whose page event carried both ids is found under both: keep it once.
	return sortUnique(touches), nil
}

// AnonymousTouches implements People.
func (p StorePeople) AnonymousTouches(ctx context.Context, anonymousID string) ([]attribution.Touch, error) {
	touches, err := p.Touches.ByVisitor(ctx, anonymousID)
	if err != nil {
		return nil, fmt.Errorf("touches of anonymous id %s: %w", anonymousID, err)
	}
	return touches, nil
}

// sortUnique orders touches oldest first, ties by messageId (the order attribution
// uses), and drops repeated messageIds.
func sortUnique(touches []attribution.Touch) []attribution.Touch {
	slices.SortStableFunc(touches, compareTouches)
	return slices.CompactFunc(touches, func(a, b attribution.Touch) bool {
		return a.MessageID != "" && a.MessageID == b.MessageID
	})
}

func compareTouches(a, b attribution.Touch) int {
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c
	}
	return cmp.Compare(a.MessageID, b.MessageID)
}
