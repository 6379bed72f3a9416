// Package writebehind is the schedule that the write-behind batchers share
// (storage's last-seen stamps, insights' client-usage recorder): a batch
// opens with its first item and is written MaxDelay later, or at once when
// it is full; what a failed write kept, or what came in meanwhile, opens
// the next batch. The batchers keep their own data and merging; this
// package only decides when they flush, and ends them (Loop.Close: the
// last flush, once). Standard library only.
package writebehind
