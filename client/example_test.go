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

// Classify one text. Against a server started with `go run ./cmd/topicd`, the address is
// "localhost:50051"; here the example starts one of its own.
func Example() {
	addr, stop := exampleServer()
	defer stop()

	c, err := client.New(addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	cl, err := c.ClassifyText(context.Background(), "Hackers breached the ministry's mail servers and stole passwords in a ransomware attack.")
	if status.Code(err) == codes.InvalidArgument {
		log.Fatalf("the server will not take this document: %v", status.Convert(err).Message())
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cl.GetLabel(), "with", len(cl.GetScores()), "scored labels")
	// Output:
	// cybersecurity with 4 scored labels
}

// Spread calls over several replicas: a comma-separated list of addresses, or a DNS name that
// resolves to all of them. Behind a Kubernetes headless Service, over mutual TLS, that is
//
//	client.New("dns:///topicd-headless.news.svc.cluster.local:50051",
//		client.WithTLS("/etc/topicd/ca.pem"),
//		client.WithClientCertificate("/etc/topicd/client.pem", "/etc/topicd/client-key.pem"))
//
// Here the example starts two replicas of its own.
func ExampleNew() {
	a, stopA := exampleServer()
	defer stopA()
	b, stopB := exampleServer()
	defer stopB()

	c, err := client.New(a + "," + b)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	cl, err := c.ClassifyText(context.Background(), "Hundreds of refugees crossed the border and asked for asylum.")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cl.GetLabel())
	// Output:
	// migration
}

// Classify a channel of documents over every replica; each document gets exactly one result,
// even when a replica dies mid-job. Ordered passes the results on in input order.
func ExampleClient_RunBatch() {
	a, stopA := exampleServer()
	defer stopA()
	b, stopB := exampleServer()
	defer stopB()

	c, err := client.New(a + "," + b)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	docs := make(chan *topicdv1.Document)
	go func() {
		defer close(docs)
		docs <- &topicdv1.Document{Id: "a1", Text: "Border guards detained asylum seekers who crossed the river from the neighbouring country."}
		docs <- &topicdv1.Document{Id: "a2", Text: "   "}
		docs <- &topicdv1.Document{Id: "a3", Title: "Hackers steal passwords from the ministry's network in a ransomware attack"}
	}()
	stats, err := c.RunBatch(context.Background(), client.BatchConfig{Concurrency: 4, Ordered: true}, docs, func(r client.Result) error {
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
	// Output:
	// a1: migration
	// a2: InvalidArgument
	// a3: cybersecurity
	// 3 documents
}
