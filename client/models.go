package client

import (
	"context"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// ListModels returns every model the server holds, the default first.
func (c *Client) ListModels(ctx context.Context) ([]*topicdv1.ModelInfo, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resp, err := c.models.ListModels(ctx, &topicdv1.ListModelsRequest{})
	if err != nil {
		return nil, err
	}
	return resp.GetModels(), nil
}

// GetModel describes the model called name; "" is the server's default model. An unknown name
// is a NOT_FOUND status error.
func (c *Client) GetModel(ctx context.Context, name string) (*topicdv1.ModelInfo, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resp, err := c.models.GetModel(ctx, &topicdv1.GetModelRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return resp.GetModel(), nil
}
