package client

import (
	"encoding/json"
	"fmt"
)

// serviceConfig returns the gRPC service config every Client uses: round_robin over all resolved
// addresses, client-side health checking so a replica that reports NOT_SERVING (for example
// while shutting down) gets no new calls, and retries of UNAVAILABLE with exponential backoff.
//
// gRPC retries a streaming call only until the server has answered on it; after that RunBatch
// re-sends the unanswered documents itself.
func serviceConfig(healthService string, maxAttempts int) (string, error) {
	if maxAttempts < 1 {
		return "", fmt.Errorf("client: max attempts %d: must be at least 1", maxAttempts)
	}
	type name struct {
		Service string `json:"service"`
	}
	type retryPolicy struct {
		MaxAttempts          int      `json:"maxAttempts"`
		InitialBackoff       string   `json:"initialBackoff"`
		MaxBackoff           string   `json:"maxBackoff"`
		BackoffMultiplier    float64  `json:"backoffMultiplier"`
		RetryableStatusCodes []string `json:"retryableStatusCodes"`
	}
	type methodConfig struct {
		Name        []name       `json:"name"`
		RetryPolicy *retryPolicy `json:"retryPolicy,omitempty"`
	}
	mc := methodConfig{Name: []name{{"topicd.v1.ClassifierService"}, {"topicd.v1.ModelService"}}}
	if maxAttempts > 1 {
		mc.RetryPolicy = &retryPolicy{
			MaxAttempts:          maxAttempts,
			InitialBackoff:       "0.1s",
			MaxBackoff:           "2s",
			BackoffMultiplier:    2,
			RetryableStatusCodes: []string{"UNAVAILABLE"},
		}
	}
	cfg := map[string]any{
		"loadBalancingConfig": []map[string]any{{"round_robin": map[string]any{}}},
		"healthCheckConfig":   map[string]string{"serviceName": healthService},
		"methodConfig":        []methodConfig{mc},
	}
	b, err := json.Marshal(cfg)
	return string(b), err
}
