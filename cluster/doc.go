// Package cluster lets several wishcast nodes share one PostgreSQL and
// act as one server: a stream directory that says which node holds each
// live stream or camera (leases the holder renews), pulling a stream
// another node holds over WHEP as an on-demand source of this node's hub,
// node-to-node requests signed with the cluster secret, and forwarding of
// /sessions/{id} to the node that holds the session.
//
// Nothing here runs unless the node is configured for a cluster (see
// Config.Enabled): one node stays exactly as without this package.
package cluster
