package client_test

import (
	"context"
	"fmt"
	"log"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/client"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// Classify one text against a local server started with `go run ./cmd/topicd`.
func Example() {
	c, err := client.New("localhost:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	cl, err := c.ClassifyText(context.Background(), "Hackers breached the ministry's mail servers.")
	if status.Code(err) == codes.InvalidArgument {
		log.Fatalf("the server will not take this document: %v", status.Convert(err).Message())
	}
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range cl.GetScores() {
		fmt.Printf("%-14s %.3f\n", s.GetLabel(), s.GetConfidence())
	}
}

// Spread calls over the replicas behind a Kubernetes headless Service, over mutual TLS.
func ExampleNew() {
	c, err := client.New("dns:///topicd-headless.news.svc.cluster.local:50051",
		client.WithTLS("/etc/topicd/ca.pem"),
		client.WithClientCertificate("/etc/topicd/client.pem", "/etc/topicd/client-key.pem"),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

// Classify a channel of documents over every replica; each document gets exactly one result,
// even when a replica dies mid-job.
func ExampleClient_RunBatch() {
	c, err := client.New("10.0.0.1:50051,10.0.0.2:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	docs := make(chan *topicdv1.Document)
	go func() {
		defer close(docs)
		docs <- &topicdv1.Document{Id: "a1", Text: "Border guards detained asylum seekers."}
		docs <- &topicdv1.Document{Id: "a2", Text: "The ministers signed a trade agreement."}
	}()
	stats, err := c.RunBatch(context.Background(), client.BatchConfig{Concurrency: 4}, docs, func(r client.Result) error {
		if r.Err != nil {
			fmt.Printf("%s: %v\n", r.ID, status.Code(r.Err))
			return nil
		}
		fmt.Printf("%s: %s\n", r.ID, r.Classification.GetLabel())
		return nil
	}, client.WithTopK(1))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stats.Documents, "documents")
}
