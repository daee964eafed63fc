/**
 * The JSON-file registry of named networks, byte-compatible with the Go reference's {@code networks/index.json}.
 */
package dev.tapwire.network.registry;
