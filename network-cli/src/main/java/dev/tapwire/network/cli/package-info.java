/**
 * The {@code tapwire} command.
 */
package dev.tapwire.network.cli;
