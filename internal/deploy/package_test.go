package deploy_test

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
)

// stage is the stage the test packages for; table and function names carry it.
const stage = "ci"

// What each Lambda must look like once deployed. A new cmd/<name> needs an entry here
// (and in serverless.yml): the test fails rather than let it ship unchecked.
var expectations = map[string]struct {
	timeout  int      // seconds
	routes   []string // HTTP API route keys
	stream   []string // event types the stream consumer's filter lets through
	schedule string   // the EventBridge schedule that invokes it
	actions  []string // every IAM action of the function's own role
}{
	"events": {
		timeout: 10,
		routes:  []string{"POST /events"},
		actions: []string{"logs:CreateLogStream", "logs:PutLogEvents", "dynamodb:PutItem", "dynamodb:BatchGetItem"},
	},
	"detect": {
		timeout: 60,
		stream:  []string{event.TypePage},
		actions: append(streamActions(), "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchGetItem"),
	},
	"conversions": {
		timeout: 60,
		stream:  []string{event.TypeTrack},
		actions: append(streamActions(), "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchGetItem"),
	},
	"precompute": {
		timeout:  900,
		schedule: "cron(15 0 * * ? *)",
		actions:  []string{"logs:CreateLogStream", "logs:PutLogEvents", "dynamodb:Scan", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"},
	},
	"identify": {
		timeout: 60,
		stream:  []string{event.TypeIdentify, event.TypeAlias},
		actions: append(streamActions(), "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchGetItem"),
	},
	"query": {
		timeout: 29,
		routes: []string{
			"GET /api/user/{id}", "GET /api/anonymous/{id}", "GET /api/user/{id}/attribution",
			"DELETE /api/user/{id}", "DELETE /api/anonymous/{id}",
			"GET /api/user/{id}/conversions", "GET /api/report", "GET /api/report/paths", "GET /api/report/options",
		},
		actions: []string{"logs:CreateLogStream", "logs:PutLogEvents", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"},
	},
	"dashboard": {
		timeout: 10,
		routes:  []string{"GET /", "GET /assets/{name}", "GET /api/detect"},
		actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"},
	},
	"trigger": {
		timeout: 29,
		routes:  []string{"GET /segment/identify/user/{id}", "GET /segment/track/user/{id}", "GET /segment/track/anonymous/{id}"},
		actions: []string{"logs:CreateLogStream", "logs:PutLogEvents", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"},
	},
	"redrive": {
		timeout:  300,
		schedule: "rate(1 hour)",
		actions: []string{"logs:CreateLogStream", "logs:PutLogEvents", "sqs:ReceiveMessage", "sqs:DeleteMessage",
			"dynamodb:GetShardIterator", "dynamodb:GetRecords",
			"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchGetItem"},
	},
}

func streamActions() []string {
	return []string{
		"logs:CreateLogStream", "logs:PutLogEvents",
		"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
		"sqs:SendMessage",
	}
}

// environment is every variable serverless.yml must hand each function.
var environment = []string{
	"STAGE", "EVENTS_TABLE", "IDENTITIES_TABLE", "TOUCHES_TABLE", "SEGMENT_WRITE_KEY", "SEGMENT_ENDPOINT",
	"SEGMENT_SHARED_SECRET", "API_KEY", "SOURCE_IDENTIFIED_EVENT", "INTERNAL_DOMAINS", "IGNORED_REFERRERS",
	"REALTIME", "RETENTION_DAYS", "TOUCH_RETENTION_DAYS",
	"CONVERSIONS_TABLE", "CONVERSION_EVENTS", "CONVERSION_LOOKBACK_DAYS", "REPORT_TIMEZONE", "CONVERSION_CREDITS_EVENT",
	"BLOCKED_IDS", "MAX_ANONYMOUS_IDS_PER_USER", "MAX_USERS_PER_ANONYMOUS_ID",
}

// modified is the fixed entry time tools/zipbootstrap writes.
var modified = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// testZips checks each zip: bootstrap, 0755, fixed time, a static linux/arm64 ELF; and
// in the zips of the Lambdas that detect sources, referers.yml after it: the bytes of
// REFERERS_FILE, 0644, fixed time.
func testZips(t *testing.T, bin string, names, detecting []string, referers string) {
	want, err := os.ReadFile(referers)
	require.NoError(t, err)
	for _, name := range names {
		path := filepath.Join(bin, name+".zip")
		st, err := os.Stat(path)
		require.NoError(t, err)
		files := readZip(t, path)
		if slices.Contains(detecting, name) {
			require.Len(t, files, 2, "%s: bootstrap and referers.yml", name)
			r := files[1]
			assert.Equal(t, "referers.yml", r.Name, name)
			assert.Equal(t, os.FileMode(0o644), r.Mode().Perm(), name)
			assert.True(t, r.Modified.Equal(modified), "%s: modified %s", name, r.Modified)
			assert.Equal(t, string(want), string(readEntry(t, r)), "%s: referers.yml is REFERERS_FILE", name)
		} else {
			require.Len(t, files, 1, "%s detects nothing: bootstrap alone", name)
		}
		f := files[0]
		assert.Equal(t, "bootstrap", f.Name, name)
		assert.Equal(t, os.FileMode(0o755), f.Mode().Perm(), name)
		assert.True(t, f.Modified.Equal(modified), "%s: modified %s", name, f.Modified)
		data := readEntry(t, f)
		exe, err := elf.NewFile(bytes.NewReader(data))
		require.NoError(t, err, name)
		assert.Equal(t, elf.EM_AARCH64, exe.Machine, name)
		for _, p := range exe.Progs {
			assert.NotEqual(t, elf.PT_INTERP, p.Type, "%s: bootstrap must be statically linked", name)
		}
		t.Logf("report: lambda=%s arch=arm64 zip_bytes=%d bootstrap_bytes=%d", name, st.Size(), len(data))
	}
	_, err = os.Stat(filepath.Join(bin, "attribution.zip"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the operator CLI is no Lambda")
	env, err := os.ReadFile(filepath.Join(bin, "lambda-env.yml"))
	require.NoError(t, err, "make build tells serverless.yml where the functions find REFERERS_FILE")
	assert.Equal(t, "REFERERS_FILE: /var/task/referers.yml\n", string(env))
}

func readEntry(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	require.NoError(t, err)
	defer rc.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	require.NoError(t, err)
	return buf.Bytes()
}

// testReproducible builds one Lambda again into another directory: same bytes.
func testReproducible(t *testing.T, root, bin, name string, extra ...string) {
	again := t.TempDir()
	makeBuild(t, root, again, "arm64", append([]string{"LAMBDAS=" + name}, extra...)...)
	first, err := os.ReadFile(filepath.Join(bin, name+".zip"))
	require.NoError(t, err)
	second, err := os.ReadFile(filepath.Join(again, name+".zip"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(first, second), "%s.zip differs between two builds of the same sources", name)
}

// testWithoutReferers builds a Lambda that detects without REFERERS_FILE: bootstrap
// alone, and nothing for serverless.yml to set (its REFERERS_FILE falls back to empty).
func testWithoutReferers(t *testing.T, root, name string) {
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "lambda-env.yml"), []byte("REFERERS_FILE: /var/task/referers.yml\n"), 0o644))
	makeBuild(t, root, bin, "arm64", "LAMBDAS="+name, "REFERERS_FILE=")
	files := readZip(t, filepath.Join(bin, name+".zip"))
	require.Len(t, files, 1, name)
	assert.Equal(t, "bootstrap", files[0].Name)
	_, err := os.Stat(filepath.Join(bin, "lambda-env.yml"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a build without REFERERS_FILE removes the last one's lambda-env.yml")
}

// testPackage runs the pinned osls offline on a copy of serverless.yml beside the zips
// and checks the CloudFormation it writes.
func testPackage(t *testing.T, root, dir string, names, detecting []string) {
	for _, name := range names {
		if _, ok := expectations[name]; !ok {
			t.Fatalf("cmd/%s is a Lambda without deployment expectations: add it to expectations in this file and to serverless.yml", name)
		}
	}
	writeServerlessYML(t, root, dir, names)
	tpl := oslsPackage(t, root, dir)
	res := tpl.Resources

	t.Run("functions", func(t *testing.T) {
		for _, name := range names {
			fn := res.get(t, title(name)+"LambdaFunction", "AWS::Lambda::Function")
			p := fn.Properties
			assert.Equal(t, "provided.al2023", p["Runtime"], name)
			assert.Equal(t, "bootstrap", p["Handler"], name)
			assert.Equal(t, []any{"arm64"}, p["Architectures"], name)
			assert.EqualValues(t, expectations[name].timeout, p["Timeout"], name)
			assert.GreaterOrEqual(t, p["MemorySize"], float64(128), name)
			assert.Equal(t, getAtt(title(name)+"Role", "Arn"), p["Role"], "%s runs with its own role", name)
			assert.True(t, strings.HasSuffix(jsonString(p["Code"]), "/"+name+`.zip"}`), "%s: code %s", name, jsonString(p["Code"]))
			vars, _ := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			for _, v := range environment {
				assert.Contains(t, vars, v, name)
			}
			assert.Equal(t, stage, vars["STAGE"], name)
			assert.Equal(t, "attribution-"+stage+"-events", vars["EVENTS_TABLE"], name)
			assert.Equal(t, "attribution-"+stage+"-identities", vars["IDENTITIES_TABLE"], name)
			assert.Equal(t, "attribution-"+stage+"-touches", vars["TOUCHES_TABLE"], name)
			if slices.Contains(detecting, name) {
				assert.Equal(t, "/var/task/referers.yml", vars["REFERERS_FILE"], "%s reads REFERERS_FILE from its package", name)
			} else {
				assert.NotContains(t, vars, "REFERERS_FILE", "%s detects nothing: its zip has no referers.yml", name)
			}
		}
		_, shared := res["IamRoleLambdaExecution"]
		assert.False(t, shared, "no shared execution role: every function has its own")
	})

	t.Run("routes", func(t *testing.T) {
		want := map[string]string{} // route key → function
		for _, name := range names {
			for _, r := range expectations[name].routes {
				want[r] = name
			}
		}
		got := map[string]string{} // route key → target
		for _, r := range res.ofType("AWS::ApiGatewayV2::Route") {
			got[r.Properties["RouteKey"].(string)] = jsonString(r.Properties["Target"])
		}
		assert.ElementsMatch(t, keys(want), keys(got))
		for route, name := range want {
			integration := "HttpApiIntegration" + title(name)
			assert.Contains(t, got[route], integration, route)
			if i, ok := res[integration]; assert.True(t, ok, integration) {
				assert.Contains(t, jsonString(i.Properties["IntegrationUri"]), title(name)+"LambdaFunction", route)
				assert.Equal(t, "2.0", i.Properties["PayloadFormatVersion"], route)
			}
		}
	})

	t.Run("streams", func(t *testing.T) {
		mappings := res.ofType("AWS::Lambda::EventSourceMapping")
		consumers := 0
		for _, name := range names {
			types := expectations[name].stream
			var mine []resource
			for _, m := range mappings {
				if strings.Contains(jsonString(m.Properties["FunctionName"]), title(name)+"LambdaFunction") {
					mine = append(mine, m)
				}
			}
			if len(types) == 0 {
				assert.Empty(t, mine, "%s consumes no stream", name)
				continue
			}
			consumers++
			require.Len(t, mine, 1, name)
			p := mine[0].Properties
			assert.Equal(t, getAtt("EventsTable", "StreamArn"), p["EventSourceArn"], name)
			assert.Equal(t, []any{"ReportBatchItemFailures"}, p["FunctionResponseTypes"], name)
			assert.Equal(t, true, p["BisectBatchOnFunctionError"], name)
			assert.Equal(t, "TRIM_HORIZON", p["StartingPosition"], name)
			for _, k := range []string{"BatchSize", "MaximumBatchingWindowInSeconds", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds"} {
				assert.Contains(t, p, k, name)
			}
			assert.Equal(t, map[string]any{"OnFailure": map[string]any{"Destination": getAtt("StreamFailuresQueue", "Arn")}}, p["DestinationConfig"], name)
			filters := p["FilterCriteria"].(map[string]any)["Filters"].([]any)
			require.Len(t, filters, 1, name)
			want, err := json.Marshal(map[string]any{
				"eventName": []string{"INSERT"},
				"dynamodb":  map[string]any{"NewImage": map[string]any{store.AttrType: map[string]any{"S": types}}},
			})
			require.NoError(t, err)
			assert.JSONEq(t, string(want), filters[0].(map[string]any)["Pattern"].(string), name)
		}
		assert.Len(t, mappings, consumers)
		res.get(t, "StreamFailuresQueue", "AWS::SQS::Queue")
	})

	t.Run("schedules", func(t *testing.T) {
		rules := res.ofType("AWS::Events::Rule")
		scheduled := 0
		for _, name := range names {
			var mine []resource
			for _, r := range rules {
				if strings.Contains(jsonString(r.Properties["Targets"]), title(name)+"LambdaFunction") {
					mine = append(mine, r)
				}
			}
			if expectations[name].schedule == "" {
				assert.Empty(t, mine, "%s runs on no schedule", name)
				continue
			}
			scheduled++
			require.Len(t, mine, 1, name)
			assert.Equal(t, expectations[name].schedule, mine[0].Properties["ScheduleExpression"], name)
			assert.Equal(t, "ENABLED", mine[0].Properties["State"], name)
		}
		assert.Len(t, rules, scheduled)
	})

	t.Run("redrive", func(t *testing.T) {
		// Hourly, and told which queue to empty.
		var schedules []string
		for _, r := range res.ofType("AWS::Events::Rule") {
			if strings.Contains(jsonString(r.Properties["Targets"]), "RedriveLambdaFunction") {
				schedules = append(schedules, r.Properties["ScheduleExpression"].(string))
			}
		}
		assert.Equal(t, []string{"rate(1 hour)"}, schedules)
		vars := res.get(t, "RedriveLambdaFunction", "AWS::Lambda::Function").Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		assert.Equal(t, map[string]any{"Ref": "StreamFailuresQueue"}, vars["STREAM_FAILURES_QUEUE_URL"])
	})

	t.Run("tables", func(t *testing.T) { testTables(t, res) })

	t.Run("outputs", func(t *testing.T) {
		// README's Segment setup points at this output.
		require.Contains(t, tpl.Outputs, "SegmentWebhookUrl")
		assert.Contains(t, jsonString(tpl.Outputs["SegmentWebhookUrl"]), "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/events")
	})

	t.Run("iam", func(t *testing.T) {
		for _, name := range names {
			role := res.get(t, title(name)+"Role", "AWS::IAM::Role")
			var actions []string
			for _, st := range statements(role) {
				actions = append(actions, st.actions...)
			}
			slices.Sort(actions)
			want := slices.Clone(expectations[name].actions)
			slices.Sort(want)
			assert.Equal(t, want, slices.Compact(actions), "%s role actions", name)
		}
		// No wildcard anywhere, in any role or policy of the stack. The log stream is
		// the one exception: Lambda names streams at run time, so a role may write to
		// <its own function's log group>:log-stream:* and nothing wider.
		indexRefs := 0
		for id, r := range res {
			for _, st := range statements(r) {
				assert.False(t, st.not, "%s: NotAction/NotResource", id)
				for _, a := range st.actions {
					assert.NotContains(t, a, "*", "%s: action %s", id, a)
				}
				for _, rs := range st.resources {
					if m := indexARN.FindStringSubmatch(rs); m != nil {
						indexRefs++
						assert.Contains(t, tableIndexes(res, m[1]), m[2], "%s: %s names no index of the template", id, rs)
					}
					if !strings.Contains(rs, "*") {
						continue
					}
					fn := strings.TrimSuffix(id, "Role")
					logStreams := fmt.Sprintf(`{"Fn::Sub":"arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/attribution-%s-%s:log-stream:*"}`, stage, strings.ToLower(fn))
					onlyLogs := !slices.ContainsFunc(st.actions, func(a string) bool { return !strings.HasPrefix(a, "logs:") })
					assert.True(t, onlyLogs && rs == logStreams, "%s: wildcard resource %s", id, rs)
				}
			}
		}
		assert.Positive(t, indexRefs, "index ARNs are recognised (else the check above checks nothing)")
	})
}

// testTables compares the template's tables with those internal/store creates (read
// back from dynalite, so the Go schema is the reference), plus what only AWS has:
// on-demand billing, point-in-time recovery and TTL.
func testTables(t *testing.T, res resources) {
	db, tables := dbtest.New(t)
	for _, tc := range []struct {
		id, name, live string
		ttl            bool
	}{
		{"EventsTable", "events", tables.Events, true},
		{"IdentitiesTable", "identities", tables.Identities, false},
		{"TouchesTable", "touches", tables.Touches, true},
		{"ConversionsTable", "conversions", tables.Conversions, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := res.get(t, tc.id, "AWS::DynamoDB::Table").Properties
			assert.Equal(t, "attribution-"+stage+"-"+tc.name, p["TableName"])
			assert.Equal(t, "PAY_PER_REQUEST", p["BillingMode"])
			assert.Equal(t, map[string]any{"PointInTimeRecoveryEnabled": true}, p["PointInTimeRecoverySpecification"])
			if tc.ttl {
				assert.Equal(t, map[string]any{"AttributeName": store.AttrExpiresAt, "Enabled": true}, p["TimeToLiveSpecification"])
			} else {
				assert.NotContains(t, p, "TimeToLiveSpecification")
			}

			out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(tc.live)})
			require.NoError(t, err)
			live := out.Table
			var attrs []string
			for _, a := range live.AttributeDefinitions {
				attrs = append(attrs, aws.ToString(a.AttributeName)+" "+string(a.AttributeType))
			}
			var cfnAttrs []string
			for _, a := range p["AttributeDefinitions"].([]any) {
				m := a.(map[string]any)
				cfnAttrs = append(cfnAttrs, m["AttributeName"].(string)+" "+m["AttributeType"].(string))
			}
			assert.ElementsMatch(t, attrs, cfnAttrs, "attribute definitions")
			assert.Equal(t, keySchema(live.KeySchema), cfnKeySchema(p["KeySchema"]), "key schema")

			liveGSI := map[string]string{}
			for _, g := range live.GlobalSecondaryIndexes {
				liveGSI[aws.ToString(g.IndexName)] = keySchema(g.KeySchema) + " " + string(g.Projection.ProjectionType)
			}
			cfnGSI := map[string]string{}
			gsis, _ := p["GlobalSecondaryIndexes"].([]any)
			for _, g := range gsis {
				m := g.(map[string]any)
				cfnGSI[m["IndexName"].(string)] = cfnKeySchema(m["KeySchema"]) + " " + m["Projection"].(map[string]any)["ProjectionType"].(string)
			}
			assert.Equal(t, liveGSI, cfnGSI, "global secondary indexes")

			// dynalite has no streams to describe: the consumers read NEW_IMAGE of events.
			if tc.name == "events" {
				assert.Equal(t, map[string]any{"StreamViewType": "NEW_IMAGE"}, p["StreamSpecification"])
			} else {
				assert.NotContains(t, p, "StreamSpecification")
			}
		})
	}
}

// indexARN matches a GSI's ARN as serverless.yml spells it: table ARN + /index/<name>.
var indexARN = regexp.MustCompile(`^\{"Fn::Join":\["",\[\{"Fn::GetAtt":\["(\w+)","Arn"\]\},"/index/(\w+)"\]\]\}$`)

// tableIndexes names the GSIs of the template's table id.
func tableIndexes(res resources, id string) []string {
	var names []string
	gsis, _ := res[id].Properties["GlobalSecondaryIndexes"].([]any)
	for _, g := range gsis {
		names = append(names, g.(map[string]any)["IndexName"].(string))
	}
	return names
}

func keySchema(ks []types.KeySchemaElement) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	return strings.Join(parts, ", ")
}

func cfnKeySchema(v any) string {
	var parts []string
	for _, k := range v.([]any) {
		m := k.(map[string]any)
		parts = append(parts, m["AttributeName"].(string)+" "+m["KeyType"].(string))
	}
	return strings.Join(parts, ", ")
}

// writeServerlessYML copies serverless.yml into dir, minus functions whose cmd/<name>
// has not landed yet (their zips cannot exist), and checks every Lambda is declared.
func writeServerlessYML(t *testing.T, root, dir string, names []string) {
	src, err := os.ReadFile(filepath.Join(root, "serverless.yml"))
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(src, &doc))
	functions := mapValue(doc.Content[0], "functions")
	require.NotNil(t, functions, "serverless.yml has no functions")
	declared := map[string]bool{}
	var kept []*yaml.Node
	for i := 0; i < len(functions.Content); i += 2 {
		name, fn := functions.Content[i].Value, functions.Content[i+1]
		declared[name] = true
		if !slices.Contains(names, name) {
			t.Logf("serverless.yml declares %s, but cmd/%s/main.go does not exist yet: packaging without it", name, name)
			continue
		}
		assert.Equal(t, "bootstrap", mapValue(fn, "handler").Value, name)
		assert.Equal(t, "bin/"+name+".zip", mapValue(mapValue(fn, "package"), "artifact").Value, name)
		kept = append(kept, functions.Content[i], fn)
	}
	functions.Content = kept
	for _, name := range names {
		assert.True(t, declared[name], "cmd/%s is not declared in serverless.yml", name)
	}
	out, err := yaml.Marshal(&doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "serverless.yml"), out, 0o644))
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// oslsPackage runs `osls package` in dir with no credentials, profile or network to
// speak of, as `make package` does, and reads the template it writes.
func oslsPackage(t *testing.T, root, dir string) template {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "node_modules", "osls", "bin", "serverless.js"), "package", "--stage", stage)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + oslsHome(t),
		"AWS_ACCESS_KEY_ID=offline", "AWS_SECRET_ACCESS_KEY=offline", "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "SLS_INTERACTIVE_SETUP_DISABLE=1", "SLS_TELEMETRY_DISABLED=1",
		"SLS_NOTIFICATIONS_MODE=off", "CI=true",
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "osls package:\n%s", out)
	t.Logf("osls package: %s", time.Since(start).Round(100*time.Millisecond))

	data, err := os.ReadFile(filepath.Join(dir, ".serverless", "cloudformation-template-update-stack.json"))
	require.NoError(t, err)
	var tpl template
	require.NoError(t, json.Unmarshal(data, &tpl))
	return tpl
}

// oslsHome is a HOME of osls's own, kept between runs for its schema-validator cache
// (a cold cache costs seconds) and apart from the user's ~/.aws and ~/.serverless.
func oslsHome(t *testing.T) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return t.TempDir()
	}
	home := filepath.Join(dir, "attribution", "osls-home")
	require.NoError(t, os.MkdirAll(home, 0o755))
	return home
}

type template struct {
	Resources resources      `json:"Resources"`
	Outputs   map[string]any `json:"Outputs"`
}

type resources map[string]resource

type resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

func (rs resources) get(t *testing.T, id, typ string) resource {
	t.Helper()
	r, ok := rs[id]
	require.True(t, ok, "template has no %s", id)
	require.Equal(t, typ, r.Type, id)
	return r
}

func (rs resources) ofType(typ string) []resource {
	var out []resource
	for _, id := range keys(rs) {
		if rs[id].Type == typ {
			out = append(out, rs[id])
		}
	}
	return out
}

type statement struct {
	actions   []string
	resources []string // each as JSON: a plain ARN is a quoted string
	not       bool
}

// statements gathers the IAM statements of a role's inline policies or of a policy.
func statements(r resource) []statement {
	var docs []any
	switch r.Type {
	case "AWS::IAM::Role":
		policies, _ := r.Properties["Policies"].([]any)
		for _, p := range policies {
			docs = append(docs, p.(map[string]any)["PolicyDocument"])
		}
	case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy":
		docs = append(docs, r.Properties["PolicyDocument"])
	}
	var out []statement
	for _, d := range docs {
		sts, _ := d.(map[string]any)["Statement"].([]any)
		for _, s := range sts {
			m := s.(map[string]any)
			st := statement{}
			_, na := m["NotAction"]
			_, nr := m["NotResource"]
			st.not = na || nr
			for _, a := range list(m["Action"]) {
				st.actions = append(st.actions, a.(string))
			}
			for _, res := range list(m["Resource"]) {
				st.resources = append(st.resources, jsonString(res))
			}
			out = append(out, st)
		}
	}
	return out
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func keys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
