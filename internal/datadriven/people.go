package datadriven

import (
	"slices"
	"strings"
)

// Link is an identity link as the precomputation needs it: AnonymousID belongs to
// UserID; Aliased marks AnonymousID as an alias's previousId, possibly a former userId.
type Link struct {
	UserID, AnonymousID string
	Aliased             bool
}

// Owners answers, from every identity link at once, whose touches a touch is: the same
// people /api/user/{id} would list it under, without a query per visitor. It mirrors
// the resolver: a user's touches are those keyed by its userId (as visitor
// "user:<id>" or as the touch's userId), those of every linked anonymous id, and for an
// aliased link those keyed by the previousId as a userId.
type Owners struct {
	byVisitor map[string][]string // visitor id → users
	byUserID  map[string][]string // touch userId → users besides itself
}

// userVisitorPrefix is how the touches table keys the touches of page calls without an
// anonymousId (store.VisitorID); a userId never collides with an anonymousId there.
const userVisitorPrefix = "user:"

// NewOwners indexes links.
func NewOwners(links []Link) *Owners {
	o := &Owners{byVisitor: map[string][]string{}, byUserID: map[string][]string{}}
	for _, l := range links {
		o.byVisitor[l.AnonymousID] = appendNew(o.byVisitor[l.AnonymousID], l.UserID)
		if l.Aliased {
			o.byVisitor[userVisitorPrefix+l.AnonymousID] = appendNew(o.byVisitor[userVisitorPrefix+l.AnonymousID], l.UserID)
			o.byUserID[l.AnonymousID] = appendNew(o.byUserID[l.AnonymousID], l.UserID)
		}
	}
	return o
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// Persons are the person keys (conversion.PersonKey's "user:<id>" and "anon:<id>") a
// touch of visitorID (the touches table's partition key) with userID (the page call's
// userId, or "") belongs to, sorted. A touch no user claims is its anonymous visitor's.
func (o *Owners) Persons(visitorID, userID string) []string {
	var users []string
	add := func(u string) { users = appendNew(users, u) }
	for _, u := range o.byVisitor[visitorID] {
		add(u)
	}
	if u, ok := strings.CutPrefix(visitorID, userVisitorPrefix); ok {
		add(u)
		for _, v := range o.byUserID[u] {
			add(v)
		}
	}
	if userID != "" {
		add(userID)
		for _, v := range o.byUserID[userID] {
			add(v)
		}
	}
	if len(users) == 0 {
		return []string{"anon:" + visitorID}
	}
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = "user:" + u
	}
	slices.Sort(out)
	return out
}
