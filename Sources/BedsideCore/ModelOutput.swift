/// A model's `output:` block: where Bedside finds each part of its result in the research function's own return
/// value (a dict, tuple or list of arrays or tensors), and what the numbers mean. The bridge does the mapping
/// (bridge/bridge/output.py); Bedside reads and checks the block and hands it to the worker as JSON.
public struct ModelOutput: Sendable, Equatable, Codable {
    public var segmentation: Segmentation?
    public var concepts: Concepts?
    public var plane: Plane?
    public var guidance: Guidance?

    public init(segmentation: Segmentation? = nil, concepts: Concepts? = nil, plane: Plane? = nil, guidance: Guidance? = nil) {
        self.segmentation = segmentation
        self.concepts = concepts
        self.plane = plane
        self.guidance = guidance
    }

    /// A label map (HxW class indices) or per-class scores (CxHxW, the best class wins).
    public struct Segmentation: Sendable, Equatable, Codable {
        public var from: String
        public var classes: [String]?
        public init(from: String, classes: [String]? = nil) {
            self.from = from
            self.classes = classes
        }
    }

    /// One value per concept; `mask` (where a 0/1 per concept is) hides the ones that do not apply.
    public struct Concepts: Sendable, Equatable, Codable {
        public var from: String
        public var names: [String]
        public var scale: Scale
        public var mask: String?
        /// The plane each concept belongs to (nil: none), for the page's groups.
        public var planes: [String?]?
        public init(from: String, names: [String], scale: Scale = .probability, mask: String? = nil, planes: [String?]? = nil) {
            self.from = from
            self.names = names
            self.scale = scale
            self.mask = mask
            self.planes = planes
        }
    }

    public enum Scale: String, Sendable, Equatable, Codable, CaseIterable {
        /// 0 to 1; present from 0.5.
        case probability
        /// 0 to 10; present from 5.
        case score
    }

    /// Class logits, probabilities or an index, and per class index its plane and whether it is the standard view.
    public struct Plane: Sendable, Equatable, Codable {
        public var from: String
        public var kind: Kind
        public var classes: [PlaneClass]
        public init(from: String, kind: Kind = .logits, classes: [PlaneClass]) {
            self.from = from
            self.kind = kind
            self.classes = classes
        }
    }

    public enum Kind: String, Sendable, Equatable, Codable, CaseIterable {
        case logits, probabilities, index
    }

    /// `[plane, status]` on the wire and in the config.
    public struct PlaneClass: Sendable, Equatable, Codable {
        public var plane: String
        public var status: Status
        public init(plane: String, status: Status) {
            self.plane = plane
            self.status = status
        }

        public enum Status: String, Sendable, Equatable, Codable, CaseIterable {
            case standard
            case nonStandard = "non-standard"
            case unknown
        }

        public init(from decoder: any Decoder) throws {
            var c = try decoder.unkeyedContainer()
            plane = try c.decode(String.self)
            status = try c.decode(Status.self)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.unkeyedContainer()
            try c.encode(plane)
            try c.encode(status)
        }
    }

    public struct Guidance: Sendable, Equatable, Codable {
        public var from: String
        public init(from: String) { self.from = from }
    }

    /// The environment variable the bridge reads the block from.
    public static let environmentKey = "BEDSIDE_OUTPUT"
}
