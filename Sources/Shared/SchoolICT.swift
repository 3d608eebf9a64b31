public enum SchoolICT {}
