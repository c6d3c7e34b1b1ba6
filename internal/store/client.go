// Package store holds the DynamoDB repositories: events, identities and touches. Each
// takes an injected *dynamodb.Client and its table name.
package store

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ClientOptions says where DynamoDB is. Endpoint empty means AWS itself.
type ClientOptions struct {
	Region   string
	Endpoint string
	// MaxConns bounds connections to DynamoDB; a full 4,000-event webhook batch keeps
	// this many writes in flight.
	MaxConns int
}

// NewClient builds a DynamoDB client. With a custom endpoint (dynalite, DynamoDB Local)
// and no credentials in the environment, it uses dummy static credentials: such servers
// check the signature's shape, not its secret.
func NewClient(ctx context.Context, o ClientOptions) (*dynamodb.Client, error) {
	if o.MaxConns <= 0 {
		o.MaxConns = 128
	}
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = o.MaxConns
		t.MaxIdleConnsPerHost = o.MaxConns
		t.IdleConnTimeout = 90 * time.Second
	}).WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = 3 * time.Second
	})
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(o.Region),
		awsconfig.WithHTTPClient(httpClient),
	}
	if o.Endpoint != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(localCredentials{}))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return dynamodb.NewFromConfig(cfg, func(opt *dynamodb.Options) {
		if o.Endpoint != "" {
			opt.BaseEndpoint = aws.String(o.Endpoint)
		}
	}), nil
}

// localCredentials uses the environment's credentials when there are any, and a dummy
// pair otherwise, so `make run` needs no AWS account.
type localCredentials struct{}

func (localCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := credentials.NewStaticCredentialsProvider("local", "local", "").Retrieve(ctx)
	return creds, err
}
