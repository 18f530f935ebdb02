import BedsideCore
import Hummingbird
import Logging

/// The region editor's side in the running Bedside: privacy masks for the input size, each model's crop.
public protocol RegionEditing: Sendable {
    /// The input size now (0 x 0 before the first frame).
    var inputSize: (width: Int, height: Int) { get }
    var modelNames: [String] { get }
    func regions() -> RegionsState
    /// Applies `update` live (the next frame is masked and cropped the new way), then saves it beside the config;
    /// the state after, with a warning when it could not be saved.
    func apply(_ update: Regions, size: String) -> RegionsState
}

/// `regions/get` and `regions/save`'s answer.
public struct RegionsState: Codable, Sendable, Equatable {
    public struct Model: Codable, Sendable, Equatable {
        public struct Input: Codable, Sendable, Equatable {
            public var width: Int?
            public var height: Int?
            public init(width: Int?, height: Int?) {
                self.width = width
                self.height = height
            }
            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(width, forKey: .width)
                try c.encode(height, forKey: .height)
            }
        }
        public var name: String
        public var crop: CropRect?
        public var input: Input
        public init(name: String, crop: CropRect?, input: Input) {
            self.name = name
            self.crop = crop
            self.input = input
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(crop, forKey: .crop)
            try c.encode(input, forKey: .input)
        }
    }
    public var width: Int
    public var height: Int
    public var size: String
    public var masks: [CropRect]
    public var masksForThisSize: Bool
    public var allowUnmasked: Bool
    public var models: [Model]
    /// Where the editor saves (Bedside's state folder, one file per config); nil without a config file.
    public var regionsFile: String?
    public var saved: Bool
    public var warning: String?

    public init(
        width: Int, height: Int, masks: [CropRect], masksForThisSize: Bool, allowUnmasked: Bool, models: [Model],
        regionsFile: String?, saved: Bool, warning: String? = nil
    ) {
        self.width = width
        self.height = height
        size = "\(width)x\(height)"
        self.masks = masks
        self.masksForThisSize = masksForThisSize
        self.allowUnmasked = allowUnmasked
        self.models = models
        self.regionsFile = regionsFile
        self.saved = saved
        self.warning = warning
    }

    enum CodingKeys: String, CodingKey {
        case width, height, size, masks, models, saved, warning
        case masksForThisSize = "masks_for_this_size", allowUnmasked = "allow_unmasked", regionsFile = "regions_file"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(width, forKey: .width)
        try c.encode(height, forKey: .height)
        try c.encode(size, forKey: .size)
        try c.encode(masks, forKey: .masks)
        try c.encode(masksForThisSize, forKey: .masksForThisSize)
        try c.encode(allowUnmasked, forKey: .allowUnmasked)
        try c.encode(models, forKey: .models)
        try c.encode(regionsFile, forKey: .regionsFile)
        try c.encode(saved, forKey: .saved)
        try c.encodeIfPresent(warning, forKey: .warning)
    }
}

/// What the editor sent: `size=WxH`, `masks=x,y,w,h;x,y,w,h`, `crop.<model>=x,y,w,h|none`. Every rectangle must lie
/// inside the frame with a width and height above 0; the error names the rectangle.
public enum RegionRequest {
    public static func parse(_ q: Query, width: Int, height: Int, models: [String]) throws(APIError) -> (size: String, update: Regions) {
        let size = q["size"] ?? "\(width)x\(height)"
        let dims = size.split(separator: "x").compactMap { Int($0) }
        guard dims.count == 2, dims[0] > 0, dims[1] > 0 else {
            throw APIError(.badRequest, "size `\(size)` is not WIDTHxHEIGHT", fix: "send the input size, e.g. size=1920x1080")
        }
        func rect(_ text: String, _ what: String) throws(APIError) -> CropRect {
            let fix = "draw the rectangle inside the picture"
            let n = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard n.count == 4, let x = n[0], let y = n[1], let w = n[2], let h = n[3], w > 0, h > 0, x >= 0, y >= 0 else {
                throw APIError(.badRequest, "\(what) `\(text)` is not x,y,width,height with a width and height above 0", fix: fix)
            }
            guard x + w <= dims[0], y + h <= dims[1] else {
                throw APIError(.badRequest, "\(what) \(x),\(y) \(w)x\(h) reaches outside the \(size) frame", fix: fix)
            }
            return CropRect(x: x, y: y, width: w, height: h)
        }
        var update = Regions()
        if let m = q["masks"] {
            var masks: [CropRect] = []
            for (i, part) in m.split(separator: ";").enumerated() { masks.append(try rect(String(part), "mask \(i + 1)")) }
            update.masksBySize[size] = masks
        }
        for name in models {
            guard let v = q["crop.\(name)"] else { continue }
            update.crops[name] = v == "none" || v.isEmpty ? .some(nil) : .some(try rect(v, "the crop of \(name)"))
        }
        return (size, update)
    }
}

/// `POST /api/regions/get|save` (admin).
struct RegionRoutes {
    let editor: any RegionEditing
    let logger: Logger

    func add(admin api: RouterGroup<BedsideRequestContext>) {
        let editor = self.editor, log = logger
        api.post("regions/get") { _, _ in JSONReply.response(editor.regions()) }
        api.post("regions/save") { request, _ -> Response in
            let input = editor.inputSize
            let (size, update) = try RegionRequest.parse(Query(request), width: input.width, height: input.height, models: editor.modelNames)
            let state = editor.apply(update, size: size)
            log.notice(
                "region editor: saved",
                metadata: ["size": "\(size)", "masks": "\(update.masksBySize[size]?.count ?? -1)", "crops": "\(update.crops.keys.sorted())"])
            return JSONReply.response(state)
        }
    }
}
