/**
 * Raw libc bindings and Linux constants; not exported. Each function carries its C signature; marshalling lives in the safe layer.
 */
package dev.tapwire.network.bridge.linux.raw;
