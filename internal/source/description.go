// Package source works out where a visit came from: the traffic source described by a
// landing URL and its referrer, in the shape of the npm library inbound, extended.
package source

// Type is what kind of site or signal sent the visit.
type Type string

const (
	TypeSearch   Type = "search"
	TypeSocial   Type = "social"
	TypeEmail    Type = "email"
	TypeAd       Type = "ad"
	TypeLocal    Type = "local"
	TypeAI       Type = "ai"
	TypeInternal Type = "internal"
	TypeLink     Type = "link"
	TypeDirect   Type = "direct"
	TypeUnknown  Type = "unknown"
)

// Description is the contract users see in their traits. Its JSON shape is compatible with inbound's; extra keys never change meaning.
type Description struct {
	Referrer Referrer  `json:"referrer"`
	Campaign *Campaign `json:"campaign,omitempty"`
	Channel  string    `json:"channel"`
}

// Referrer says what the referrer was. Which name key is set depends on Type:
// search → Engine, social and ad → Network, email → Client, local → Site, ai → Assistant.
type Referrer struct {
	Type      Type   `json:"type"`
	Engine    string `json:"engine,omitempty"`
	Query     string `json:"query,omitempty"`
	Network   string `json:"network,omitempty"`
	Client    string `json:"client,omitempty"`
	Site      string `json:"site,omitempty"`
	Assistant string `json:"assistant,omitempty"`
	From      string `json:"from,omitempty"`
	Link      string `json:"link,omitempty"`
}

// Campaign holds the decoded utm_* parameters of the landing URL.
type Campaign struct {
	Source   string `json:"source,omitempty"`
	Medium   string `json:"medium,omitempty"`
	Campaign string `json:"campaign,omitempty"`
	Term     string `json:"term,omitempty"`
	Content  string `json:"content,omitempty"`
}
