package httpapi_test

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"

	"github.com/attribution-dev/attribution/internal/httpapi"
)

func TestPathParamDecodesExactlyOnce(t *testing.T) {
	const route = "GET /segment/track/user/{id}"
	for _, tc := range []struct {
		name, rawPath, param, want string
	}{
		{"plain", "/segment/track/user/u-1", "u-1", "u-1"},
		{"local adapter: decoded param, encoded raw path", "/segment/track/user/a%2Fb%20c", "a/b c", "a/b c"},
		// Identical values are ambiguous (both encoded, or an id that contains "%2F" with
		// both decoded, which is what API Gateway sends): taken as given, never decoded twice.
		{"identical values are taken as given", "/segment/track/user/a%2Fb%20c", "a%2Fb%20c", "a%2Fb%20c"},
		{"both decoded (API Gateway)", "/segment/track/user/a b", "a b", "a b"},
		{"an id that really contains %41 is not decoded twice", "/segment/track/user/x%2541", "x%41", "x%41"},
		{"literal %41 given as is on both sides", "/segment/track/user/x%41", "x%41", "x%41"},
		{"plus is a plus", "/segment/track/user/a+b", "a+b", "a+b"},
		{"stage prefix", "/dev/segment/track/user/a%40b.com", "a@b.com", "a@b.com"},
		{"only the raw path", "/segment/track/user/a%40b.com", "", "a@b.com"},
		{"no raw path", "", "a@b.com", "a@b.com"},
		{"decoded slash in raw path: trust the parameter", "/segment/track/user/a/b", "a/b", "a/b"},
		{"raw path of another shape", "/elsewhere/x%20y", "p", "p"},
		{"bad escape in raw path", "/segment/track/user/a%zz", "a%zz", "a%zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := events.APIGatewayV2HTTPRequest{RouteKey: route, RawPath: tc.rawPath}
			if tc.param != "" {
				req.PathParameters = map[string]string{"id": tc.param}
			}
			assert.Equal(t, tc.want, httpapi.PathParam(req, "id"))
		})
	}
}

func TestPathParamReadsTheRequestContextRouteKey(t *testing.T) {
	req := events.APIGatewayV2HTTPRequest{
		RawPath:        "/api/user/a%20b/attribution",
		PathParameters: map[string]string{"id": "a b"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RouteKey: "GET /api/user/{id}/attribution"},
	}
	assert.Equal(t, "a b", httpapi.PathParam(req, "id"))
	req.PathParameters = nil
	assert.Equal(t, "a b", httpapi.PathParam(req, "id"), "found in the raw path through the route template")
}
