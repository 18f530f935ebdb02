import Testing

@testable import Web

@Suite("Query: action parameters decoded as the pages' forms send them")
struct QueryTests {
    @Test("+ is a space, %2B a plus, UTF-8 escapes are characters; credentials are left out")
    func formDecoding() {
        let q = Query(formEncoded: "text=probe+slipped+at+00%3A40+%2B+gel&token=abc&pin=1234&name=Sch%C3%A4del&empty=&flag")
        #expect(q["text"] == "probe slipped at 00:40 + gel")
        #expect(q["name"] == "Schädel")
        #expect(q["empty"] == "" && q["flag"] == "")
        #expect(q["token"] == nil && q["pin"] == nil)
    }

    @Test("a malformed escape is kept as written; the last value of a key wins")
    func malformed() {
        let q = Query(formEncoded: "a=100%&b=%zz1&a=2&c=%4")
        #expect(q["a"] == "2" && q["b"] == "%zz1" && q["c"] == "%4")
        #expect(Query(formEncoded: "a=100%")["a"] == "100%")
    }
}
