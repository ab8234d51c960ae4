// Package imports holds no code: its test enforces which packages of the module may import which.
//
// The rules, from the bottom up:
//
//   - proto/... is the generated API; internal/wire and classifier sit on it. classifier, which
//     serves, imports the standard library only.
//   - classifier/training and models use classifier; training is the only importer of goml
//     (github.com/cdipaolo/goml).
//   - server, client, report and the other packages sit above them. Nothing that serves
//     (classifier, models, server, cmd/topicd) links training code or goml: the model file is
//     the boundary.
//   - client uses only the generated API and internal/wire, so a program that imports it links
//     neither the classifier nor the server.
//   - cmd/... and scripts/... are programs on top; nothing imports them.
//
// A package never imports one of a higher layer. A new package takes its layer from the table in
// imports_test.go, where a directory without an entry counts as the layer of server and client.
package imports
