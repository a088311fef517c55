// Package protocol is the transport-independent layer of IKC, wire
// compatible with Perl's POE::Component::IKC 0.2402 (its ::Protocol and
// ::Specifier modules; docs/ikc-protocol.md describes the protocol). It
// does no I/O and needs no kernel:
//
//   - Specifier and Address: poe://kernel/session/state addresses (string
//     and hash forms).
//   - Message: the request hash every frame carries, to and from the
//     Storable value model of package freezer/storable; ToValue and
//     FromValue convert Go values.
//   - ServerNegotiator and ClientNegotiator: the line-by-line negotiation
//     (dialects IKC and IKC0) a connection runs before switching to frames
//     (framed by package freezer).
//
// Package ikc runs it on a POE kernel (Server, Client, Responder);
// package ikc/clientlite is a blocking client on top of it alone.
package protocol
