public enum TensorKitPlaceholder {}
