/**
 * tapwire's API: value types (addresses, subnets, MACs), the registry model and {@link dev.tapwire.network.NetworkRegistry} contract, the {@link dev.tapwire.network.NetworkProvider} contract, provider discovery through {@link dev.tapwire.network.NetworkProviders}, TAP naming and the exceptions.
 */
package dev.tapwire.network;
