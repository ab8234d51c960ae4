package client_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/topicd/topicd/client"
	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
	"github.com/topicd/topicd/server"
)

// exampleServer serves the embedded model on a free loopback port, so that examples run.
func exampleServer() (addr string, stop func()) {
	m, err := models.Default()
	if err != nil {
		log.Fatal(err)
	}
	reg, err := server.NewRegistry(server.RegistryOptions{Builtin: []server.NamedModel{{Name: models.DefaultName, Model: m}}})
	if err != nil {
		log.Fatal(err)
	}
	srv := server.New(reg, server.Options{})
	gs := grpc.NewServer(srv.ServerOptions()...)
	topicdv1.RegisterClassifierServiceServer(gs, srv)
	topicdv1.RegisterModelServiceServer(gs, srv)
	healthpb.RegisterHealthServer(gs, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go gs.Serve(lis)
	return lis.Addr().String(), gs.Stop
}

// Classify documents against a running server (here one started by the example itself).
func ExampleClient_Classify() {
	addr, stop := exampleServer()
	defer stop()

	c, err := client.New(addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, text := range []string{
		"Hackers breached the ministry's network in a ransomware attack and stole passwords.",
		"Hundreds of refugees crossed the border and asked for asylum.",
	} {
		cl, err := c.Classify(context.Background(), &topicdv1.Document{Text: text}, client.WithTopK(1))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(cl.GetLabel(), len(cl.GetScores()))
	}
	// Output:
	// cybersecurity 1
	// migration 1
}
