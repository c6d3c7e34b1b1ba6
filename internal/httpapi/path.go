package httpapi

import (
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// PathParam returns the path parameter name of the request's route, percent-decoded
// exactly once.
//
// Front ends disagree about encoding: API Gateway HTTP APIs hand Lambda decoded
// pathParameters, the local net/http adapter gives decoded parameters and an encoded
// rawPath, and other front ends may leave both encoded. So the parameter is compared
// with its segment of the raw path (found through the route key's template): when
// they differ, one is the encoding of the other and the decoded one is returned; when
// they agree, the value is returned as given, so an id that really contains "%41" is
// not decoded twice. Decoding uses PathUnescape, for which "+" is a plus, never a space.
func PathParam(req events.APIGatewayV2HTTPRequest, name string) string {
	param := req.PathParameters[name]
	seg, ok := rawPathSegment(req, name)
	if !ok || seg == param {
		return param
	}
	if dec, err := url.PathUnescape(seg); err == nil && (dec == param || param == "") {
		return dec
	}
	if dec, err := url.PathUnescape(param); err == nil && dec == seg {
		return seg
	}
	// Neither is the other's encoding (a front end rewrote the path): trust the router.
	return param
}

// rawPathSegment cuts parameter name out of RawPath using the route key's path
// template ("GET /segment/track/user/{id}"). Segments are matched from the end, because
// a stage name may come before the route's path ("/dev/segment/..."). Greedy
// parameters ({name+}) span several segments and are not cut out.
func rawPathSegment(req events.APIGatewayV2HTTPRequest, name string) (string, bool) {
	key := req.RouteKey
	if key == "" {
		key = req.RequestContext.RouteKey
	}
	_, tmpl, ok := strings.Cut(key, " ")
	if !ok || req.RawPath == "" {
		return "", false
	}
	want := strings.Split(strings.Trim(tmpl, "/"), "/")
	got := strings.Split(strings.Trim(req.RawPath, "/"), "/")
	if len(got) < len(want) {
		return "", false
	}
	got = got[len(got)-len(want):]
	seg := ""
	for i, w := range want {
		switch {
		case w == "{"+name+"}":
			seg = got[i]
		case strings.HasPrefix(w, "{"):
			// another parameter: any value
		case w != got[i]:
			return "", false // the raw path does not have the template's shape
		}
	}
	return seg, seg != ""
}
