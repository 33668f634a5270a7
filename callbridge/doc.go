// Package callbridge connects people: presence, the server-sent event feed
// each signed-in page keeps open (GET /api/v1/events), watching another
// user's camera on demand (the users/ namespace), and calls between two
// users, each made of four standard WHIP/WHEP sessions on calls/{id}/{user}.
//
// It works through the stream hub and the account store only: it asks a
// user's page to publish by an event, learns that media flows from the hub,
// and ends sessions through the Sessions interface; it never imports the
// WHIP or WHEP endpoints.
package callbridge
