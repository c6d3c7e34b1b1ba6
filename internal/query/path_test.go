package query

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
)

// pathID must decode exactly once whichever way the front end delivered the path.
func TestPathID(t *testing.T) {
	tests := []struct {
		name           string
		rawPath, param string
		prefix, suffix string
		want           string
	}{
		{"local adapter: encoded raw path, decoded parameter", "/api/user/jane%2Btest%40example.com", "jane+test@example.com", userPrefix, "", "jane+test@example.com"},
		{"HTTP API: both decoded", "/api/user/jane+test@example.com", "jane+test@example.com", userPrefix, "", "jane+test@example.com"},
		{"both decoded, literal percent", "/api/user/100%41", "100%41", userPrefix, "", "100%41"},
		{"encoded slash", "/api/user/a%2Fb", "a/b", userPrefix, "", "a/b"},
		{"parameter left encoded, raw path decoded", "/api/user/a b", "a%20b", userPrefix, "", "a b"},
		{"parameter left encoded, no raw path", "", "ada", userPrefix, "", "ada"},
		{"plus is not a space", "/api/user/a+b", "a+b", userPrefix, "", "a+b"},
		{"unicode", "/api/user/%C3%BC%E6%9D%B1", "ü東", userPrefix, "", "ü東"},
		{"stage prefix", "/dev/api/user/a%40b", "a@b", userPrefix, "", "a@b"},
		{"attribution suffix", "/api/user/a%40b/attribution", "a@b", userPrefix, attributionSuffix, "a@b"},
		{"anonymous", "/api/anonymous/x%2Fy", "x/y", anonymousPrefix, "", "x/y"},
		{"raw path of another shape", "/elsewhere", "a@b", userPrefix, "", "a@b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := events.APIGatewayV2HTTPRequest{RawPath: tt.rawPath, PathParameters: map[string]string{"id": tt.param}}
			assert.Equal(t, tt.want, pathID(req, tt.prefix, tt.suffix))
		})
	}
}
