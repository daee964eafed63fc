/**
 * The service-provider interface a backend implements to be found by {@link dev.tapwire.network.NetworkProviders}.
 */
package dev.tapwire.network.spi;
