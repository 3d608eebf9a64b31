-- student.erase: a student's name can be removed (the row, its category and its allocations stay, anonymous).
ALTER TABLE students ALTER COLUMN full_name DROP NOT NULL;
ALTER TABLE students ADD COLUMN erased_at timestamptz;
