/**
 * Model metadata: reading a model directory's Hugging Face config files and the card a served model
 * shows. Plain Java (Jackson for JSON); no Quarkus, no ONNX Runtime.
 */
package io.spindle.model;
