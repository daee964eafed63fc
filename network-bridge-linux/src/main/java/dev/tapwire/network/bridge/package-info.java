/**
 * The {@code bridge} backend: TAP devices on an existing Linux bridge, its GC module and a provider-less clean-up helper.
 */
package dev.tapwire.network.bridge;
