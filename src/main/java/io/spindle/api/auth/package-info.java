/**
 * Optional API-key authentication of the API endpoints (off unless keys are configured): the keys
 * ({@link io.spindle.api.auth.ApiKeys}) and the HTTP filter that checks them
 * ({@link io.spindle.api.auth.AuthFilter}). Health, metrics and the playground page stay open.
 */
package io.spindle.api.auth;
