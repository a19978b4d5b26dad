/**
 * Wiring: configuration, model loading at start-up, producers of the plain-Java services, health
 * checks. The only package that knows every other one.
 */
package io.spindle.app;
