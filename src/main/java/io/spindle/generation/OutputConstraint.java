package io.spindle.generation;

import io.spindle.sampling.constraint.ConstraintSpec;

/**
 * What a request asks its output to match, and the API field it came from (named in a 400 when the
 * constraint cannot be compiled).
 */
public record OutputConstraint(String field, ConstraintSpec spec) {
}
